/**
 * bcrypt on a pool of module Workers, so that hashing (about 250 ms at cost 12) never blocks the
 * event loop. Jobs queue when every worker is busy; each worker runs one job at a time.
 */
import type { BcryptJob, BcryptRequest, BcryptResult } from "./bcrypt_worker.ts";

/** Hashes and verifies passwords without blocking the caller's thread. */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  /** `hash` null verifies against a fixed dummy hash, so that a miss costs what a hit costs. */
  verify(password: string, hash: string | null): Promise<boolean>;
  close(): void;
}

/** Options of `createPasswordHasher`. */
export interface PasswordHasherOptions {
  workers: number;
  cost: number;
  /** Called as each job is handed to a worker, with how long it waited (for metrics). */
  onJob?: (op: BcryptRequest["op"], waitedSeconds: number) => void;
  /** Called when the number of jobs waiting for a worker changes. */
  onQueue?: (length: number) => void;
}

type Pending = { resolve(value: string | boolean): void; reject(error: Error): void };

/** Starts `workers` bcrypt workers. Call `close()` to terminate them. */
export function createPasswordHasher(options: PasswordHasherOptions): PasswordHasher {
  if (!Number.isInteger(options.workers) || options.workers < 1) {
    throw new RangeError("workers must be a positive integer");
  }
  const idle: Worker[] = [];
  const busy = new Map<Worker, number>();
  const pending = new Map<number, Pending>();
  const queue: (BcryptJob & { queuedAt: number })[] = [];
  let nextId = 1;
  let closed = false;

  function startWorker(): void {
    const worker = new Worker(new URL("./bcrypt_worker.ts", import.meta.url), {
      type: "module",
      name: "bcrypt",
    });
    worker.onmessage = function onResult(event: MessageEvent<BcryptResult>) {
      const result = event.data;
      const job = pending.get(result.id);
      pending.delete(result.id);
      busy.delete(worker);
      if (result.ok) job?.resolve(result.value);
      else job?.reject(new Error(`bcrypt failed: ${result.error}`));
      release(worker);
    };
    worker.onerror = function onCrash(event) {
      event.preventDefault();
      const id = busy.get(worker);
      busy.delete(worker);
      worker.terminate();
      if (id !== undefined) {
        pending.get(id)?.reject(new Error(`bcrypt worker crashed: ${event.message}`));
        pending.delete(id);
      }
      if (!closed) startWorker();
    };
    release(worker);
  }

  function dispatch(worker: Worker, job: BcryptJob, queuedAt: number): void {
    busy.set(worker, job.id);
    options.onJob?.(job.op, (performance.now() - queuedAt) / 1000);
    worker.postMessage(job);
  }

  function release(worker: Worker): void {
    const next = queue.shift();
    if (next) {
      options.onQueue?.(queue.length);
      const { queuedAt, ...job } = next;
      dispatch(worker, job as BcryptJob, queuedAt);
    } else {
      idle.push(worker);
    }
  }

  function submit(request: BcryptRequest): Promise<string | boolean> {
    if (closed) return Promise.reject(new Error("password hasher is closed"));
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      const job = { ...request, id } as BcryptJob;
      const queuedAt = performance.now();
      const worker = idle.pop();
      if (worker) {
        dispatch(worker, job, queuedAt);
      } else {
        queue.push({ ...job, queuedAt });
        options.onQueue?.(queue.length);
      }
    });
  }

  for (let i = 0; i < options.workers; i++) startWorker();

  const hash = (password: string) =>
    submit({ op: "hash", password, cost: options.cost }) as Promise<string>;

  // Made once, in the background, at the configured cost so that it costs what real hashes cost.
  let dummy: Promise<string> | undefined;
  const dummyHash = () => dummy ??= hash(crypto.randomUUID());
  dummyHash().catch(() => dummy = undefined);

  return {
    hash,
    async verify(password, stored) {
      const against = stored ?? await dummyHash();
      const ok = await submit({ op: "verify", password, hash: against }) as boolean;
      return ok && stored !== null;
    },
    close() {
      closed = true;
      for (const worker of [...idle, ...busy.keys()]) worker.terminate();
      for (const job of pending.values()) job.reject(new Error("password hasher is closed"));
      idle.length = 0;
      busy.clear();
      pending.clear();
      queue.length = 0;
    },
  };
}
