/**
 * Keeping the Redis copy right: accounts whose write failed are set again from PostgreSQL a
 * moment later; a board found lost is rebuilt (once at a time), and the accounts whose writes it
 * refused meanwhile are repaired after it; every board is brought up to date when Redis returns.
 */
import type { Sql } from "postgres";
import type { AccountState, RedisCopy } from "./copy.ts";
import { type Clock, type Window, windowsAt } from "./periods.ts";
import * as q from "./queries.ts";

/** An account's state read from PostgreSQL, as the copy takes it. */
export function stateOf(row: q.StateRow, at: number): AccountState {
  return {
    accountId: row.account_id,
    username: row.username,
    revision: row.revision,
    hidden: row.hidden,
    at: new Date(at),
    totals: { all: row.all, day: row.day, week: row.week, month: row.month },
  };
}

/** How long after a failed write the account is set again from PostgreSQL. */
const REPAIR_DELAY_MS = 1000;

/** What the upkeep reports. */
export interface UpkeepEvents {
  onRedisError(error: Error): void;
  /** A board was rebuilt from PostgreSQL (`kind`: reconcile or replace). */
  onRebuild(kind: "reconcile" | "replace", window: Window, seconds: number): void;
  /** A rebuild failed (it is tried again by the next read or write that finds the board lost). */
  onRebuildFailed(kind: "reconcile" | "replace", window: Window): void;
}

/** Options of `createUpkeep`. */
export interface UpkeepOptions {
  sql: Sql;
  copy: RedisCopy;
  clock: Clock;
  events: UpkeepEvents;
  /** Called after the copy changed without a published message (a repair, a rebuild). */
  changed(): void;
}

/** Repairs and rebuilds of the copy. */
export interface Upkeep {
  /** Sets the account's places again from PostgreSQL, soon (after the board rebuilds it waits on). */
  repair(accountId: number, error?: Error): void;
  /** Rebuilds a board that was found lost (once at a time); the promise ends with the rebuild. */
  rebuild(window: Window): Promise<void>;
  /** Rebuilds the current boards that are lost. */
  ensure(): Promise<void>;
  /** Brings every current board up to PostgreSQL (after Redis was away); rows applied. */
  reconcile(): Promise<number>;
  /** Replaces every current board with one built from PostgreSQL; rows applied. */
  replace(): Promise<number>;
  close(): void;
}

/** Builds the upkeep of `copy`. */
export function createUpkeep(options: UpkeepOptions): Upkeep {
  const { sql, copy, clock, events } = options;
  const pending = new Set<number>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  // One run of each kind of work per board at a time; callers that find it running join it.
  const running = new Map<string, Promise<number>>();
  function once(key: string, work: () => Promise<number>): Promise<number> {
    let run = running.get(key);
    if (!run) {
      run = work().finally(() => running.delete(key));
      running.set(key, run);
    }
    return run;
  }

  function timed(kind: "reconcile" | "replace", window: Window, work: () => Promise<number>) {
    return once(`${kind}:${window.id}`, async () => {
      const started = performance.now();
      let count;
      try {
        count = await work();
      } catch (error) {
        events.onRebuildFailed(kind, window);
        throw error;
      }
      events.onRebuild(kind, window, (performance.now() - started) / 1000);
      options.changed();
      return count;
    });
  }

  const reconcileOne = (window: Window) =>
    timed("reconcile", window, () => copy.reconcile(window, q.scanBoard(sql, window)));

  function schedule(): void {
    if (!timer && !closed && pending.size > 0) timer = setTimeout(run, REPAIR_DELAY_MS);
  }

  async function run(): Promise<void> {
    timer = undefined;
    const ids = [...pending];
    pending.clear();
    try {
      await repairNow(ids);
      options.changed();
    } catch (error) {
      for (const id of ids) pending.add(id);
      events.onRedisError(error as Error);
      schedule();
    }
  }

  /** Writes the accounts' states on the current boards as PostgreSQL has them. */
  async function repairNow(ids: number[]): Promise<void> {
    const now = clock.now();
    const windows = windowsAt(now);
    const [, day, week, month] = windows;
    for (const row of await q.accountStates(sql, ids, { day, week, month })) {
      const { lost } = await copy.write(stateOf(row, now), windows);
      for (const window of lost) rebuild(window).then(() => repair(row.account_id));
    }
  }

  function repair(accountId: number, error?: Error): void {
    if (error) events.onRedisError(error);
    pending.add(accountId);
    schedule();
  }

  function rebuild(window: Window): Promise<void> {
    return reconcileOne(window).then(() => {}, (error) => {
      events.onRedisError(error as Error);
    });
  }

  return {
    repair,
    rebuild,
    async ensure() {
      for (const window of windowsAt(clock.now())) {
        if (await copy.lost(window)) await reconcileOne(window);
      }
    },
    async reconcile() {
      let count = 0;
      for (const window of windowsAt(clock.now())) count += await reconcileOne(window);
      return count;
    },
    async replace() {
      let count = 0;
      for (const window of windowsAt(clock.now())) {
        count += await timed("replace", window, async () => {
          const replaced = await copy.replace(window, q.scanBoard(sql, window));
          // Completions that committed while the copy was built wrote to the old set.
          await copy.reconcile(window, q.scanBoard(sql, window));
          return replaced;
        });
      }
      return count;
    },
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
