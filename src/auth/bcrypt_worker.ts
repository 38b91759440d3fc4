/** Module Worker that runs bcrypt (hash-wasm) off the main thread; see `password_hasher.ts`. */
import { bcrypt, bcryptVerify } from "hash-wasm";

/** What the worker is asked to do. */
export type BcryptRequest =
  | { op: "hash"; password: string; cost: number }
  | { op: "verify"; password: string; hash: string };

/** A request with the id its answer carries back. */
export type BcryptJob = BcryptRequest & { id: number };

/** The worker's answer to one job. */
export type BcryptResult =
  | { id: number; ok: true; value: string | boolean }
  | { id: number; ok: false; error: string };

async function run(job: BcryptJob): Promise<string | boolean> {
  if (job.op === "hash") {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    return await bcrypt({
      password: job.password,
      salt,
      costFactor: job.cost,
      outputType: "encoded",
    });
  }
  try {
    return await bcryptVerify({ password: job.password, hash: job.hash });
  } catch {
    // hash-wasm throws on malformed hashes and unusable passwords: neither can match.
    return false;
  }
}

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<BcryptJob>) => void) | null;
  postMessage(message: BcryptResult): void;
};

scope.onmessage = async function onJob(event) {
  const job = event.data;
  try {
    scope.postMessage({ id: job.id, ok: true, value: await run(job) });
  } catch (error) {
    scope.postMessage({ id: job.id, ok: false, error: String(error) });
  }
};
