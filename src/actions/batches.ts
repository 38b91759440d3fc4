/**
 * Group commit for completions: requests that arrive while PostgreSQL is busy with earlier ones
 * wait, and go together in the next statement. A statement and its commit cost PostgreSQL (and
 * this process) much the same for one row as for a dozen, so under load one statement for many
 * completions is what lets the service keep up with the database; without load a request is sent
 * at once, alone, as before.
 *
 * A batch holds at most one item per key (an account): one account's completions count one after
 * the other, and the same account is never in two statements of this instance at once. When a
 * batch fails for a reason of one of its rows (`retryAlone`), each of its items is sent again on
 * its own, so that only that row's request sees the error.
 *
 * An item still waiting at its deadline (`submit`'s `until`: its request's, when the client is
 * answered 503) is not sent: work a client was told may not have been done is better not done
 * minutes later, when a stalled database comes back.
 *
 * A batch in flight for longer than `stallMs` no longer holds its place: one statement stuck on a
 * lock (a session left open in psql on an account's row, say) stops that account's completions,
 * not the instance's.
 */

/** How a batcher sends its items. */
export interface BatchOptions<T, R> {
  /** Batches in flight at once (not counting those in flight for longer than `stallMs`). */
  concurrency: number;
  /** How long a batch may be in flight before it no longer counts against `concurrency`. */
  stallMs: number;
  /** The most items in one batch. */
  maxSize: number;
  /** Items with one key never share a batch, nor are in flight together. */
  key(item: T): number;
  /** Sends a batch; answers each item's result by its index in the batch. */
  send(items: T[]): Promise<R[]>;
  /** Whether a batch's error may be one row's only: its items are then sent one by one. */
  retryAlone(error: unknown): boolean;
  /** Told each statement's size as it is sent (a batch's, then each item's sent again alone). */
  onBatch?(size: number): void;
}

/** What an item still waiting at its deadline is refused with. */
export class TooLate extends Error {
  constructor(waitedMs: number) {
    super(`waited ${Math.round(waitedMs)} ms, to its deadline: not sent`);
    this.name = "TooLate";
  }
}

interface Waiting<T, R> {
  item: T;
  since: number;
  until: number;
  resolve(result: R): void;
  reject(error: unknown): void;
}

/** Sends items in batches; `submit` answers one item's result. */
export function createBatcher<T, R>(options: BatchOptions<T, R>) {
  /** What waits, by key, keys in the order they began to wait: each key's items in turn. */
  const queues = new Map<number, Waiting<T, R>[]>();
  /** Keys in flight. */
  const busy = new Set<number>();
  /** When each batch in flight was sent, and the timer that makes room when it stalls. */
  const flights = new Set<{ sent: number; stall: ReturnType<typeof setTimeout> }>();
  let waiting = 0;

  async function sendAlone(w: Waiting<T, R>): Promise<void> {
    options.onBatch?.(1);
    try {
      const [result] = await options.send([w.item]);
      w.resolve(result);
    } catch (error) {
      w.reject(error);
    }
  }

  async function flight(batch: Waiting<T, R>[]): Promise<void> {
    options.onBatch?.(batch.length);
    try {
      const results = await options.send(batch.map((w) => w.item));
      batch.forEach((w, i) => w.resolve(results[i]));
    } catch (error) {
      if (batch.length > 1 && options.retryAlone(error)) {
        await Promise.all(batch.map(sendAlone));
      } else {
        for (const w of batch) w.reject(error);
      }
    }
  }

  /** Batches in flight that still hold their place. */
  function running(): number {
    const stalled = performance.now() - options.stallMs;
    let count = 0;
    for (const { sent } of flights) if (sent > stalled) count++;
    return count;
  }

  /** Sends what waits, while there is room: the next item of each key not in flight. */
  function pump(): void {
    while (waiting > 0 && running() < options.concurrency) {
      const batch: Waiting<T, R>[] = [];
      const keys: number[] = [];
      const now = performance.now();
      for (const [key, queue] of queues) {
        if (batch.length === options.maxSize) break;
        if (busy.has(key)) continue;
        let next = queue.shift();
        for (; next && next.until <= now; next = queue.shift()) {
          waiting--;
          next.reject(new TooLate(now - next.since));
        }
        if (queue.length === 0) queues.delete(key);
        if (!next) continue;
        batch.push(next);
        busy.add(key);
        keys.push(key);
      }
      if (batch.length === 0) return; // what waits is of keys in flight: sent when they land
      waiting -= batch.length;
      const sent = { sent: performance.now(), stall: setTimeout(pump, options.stallMs) };
      Deno.unrefTimer(sent.stall);
      flights.add(sent);
      flight(batch).finally(() => {
        clearTimeout(sent.stall);
        flights.delete(sent);
        for (const key of keys) busy.delete(key);
        pump();
      });
    }
  }

  return {
    /** Sends `item` in a batch, unless it still waits at `until` (a `performance.now()` time). */
    submit(item: T, until = Infinity): Promise<R> {
      return new Promise<R>((resolve, reject) => {
        const key = options.key(item);
        const entry = { item, since: performance.now(), until, resolve, reject };
        const queue = queues.get(key);
        if (queue) queue.push(entry);
        else queues.set(key, [entry]);
        waiting++;
        pump();
      });
    },
    /** Items waiting to be sent. */
    get waiting(): number {
      return waiting;
    },
  };
}
