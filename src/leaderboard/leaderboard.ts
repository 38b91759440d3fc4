/**
 * The boards (all time, day, week, month): what routes, completions and the live hub use.
 * PostgreSQL holds the truth. With Redis, the current windows are read from its copy (copy.ts),
 * kept right by upkeep.ts, and PostgreSQL answers when the copy cannot; without Redis, and for
 * past windows, PostgreSQL answers (truth.ts). The top of each board is cached (top_cache.ts).
 */
import type { Redis } from "ioredis";
import type { Sql } from "postgres";
import type { CacheStamp } from "../http/response_cache.ts";
import { type AccountState, createRedisCopy, type RedisCopy } from "./copy.ts";
import type { Entry } from "./entries.ts";
import type { RefreshFeed } from "./feed.ts";
import {
  ALL_TIME,
  type Clock,
  isCurrent,
  type Period,
  type Window,
  windowAt,
  windowsAt,
  windowsByPeriod,
} from "./periods.ts";
import { createTopCache, TOP } from "./top_cache.ts";
import { type BoardReads, type PageEntries, truthReads } from "./truth.ts";
import * as q from "./queries.ts";
import { createUpkeep, stateOf, type Upkeep, type UpkeepEvents } from "./upkeep.ts";
import { createUsernameCache } from "./usernames.ts";

export type { Entry } from "./entries.ts";
export type { AccountState } from "./copy.ts";
export type { PageEntries } from "./truth.ts";

/** What the leaderboard reports to its owner. */
export interface LeaderboardEvents extends UpkeepEvents {
  /** A change went into the Redis copy. */
  onScoreUpdate(): void;
}

/** Options of `createLeaderboard`. */
export interface LeaderboardOptions {
  sql: Sql;
  /** The command connection (`enableOfflineQueue: false`), or null: one instance, no copy. */
  redis: Redis | null;
  prefix: string;
  feed: RefreshFeed;
  clock: Clock;
  events: LeaderboardEvents;
}

/** An account's all-time and current-window ranks (null where it has no points). */
export type Ranks = Record<Period, number | null>;

/** Reads and writes of the boards. */
export interface Leaderboard {
  /** The window of `period` that contains `at` (default: now). */
  window(period: Period, at?: number): Window;
  /** The windows of every period that contain `at` (default: now). */
  windows(at?: number): Record<Period, Window>;
  /**
   * Puts an account's new state (a completion's totals) on the boards and announces it. Never
   * throws: when Redis cannot take it, a repair is scheduled. Returns the all-time rank, or null
   * for a hidden account.
   */
  record(state: AccountState): Promise<number | null>;
  /**
   * Puts the accounts' states as PostgreSQL has them now on the boards and announces them: after a
   * void, a suspension, a reinstatement, a deletion. Never throws (a repair is scheduled).
   */
  sync(accountIds: number[]): Promise<void>;
  page(window: Window, limit: number, offset: number): Promise<PageEntries>;
  /**
   * What a page of the top of a current window is read at: it stays right while `version()` is
   * unchanged. Undefined where no such promise can be made (a past window, a deep page, no feed).
   */
  stamp(window: Window, limit: number, offset: number): CacheStamp | undefined;
  /** Changes whenever any board may have changed; -1 while changes may go unheard. */
  version(): number;
  entry(window: Window, accountId: number): Promise<Entry | null>;
  around(window: Window, accountId: number, radius: number): Promise<Entry[] | null>;
  pick(window: Window, ids: number[]): Promise<Entry[]>;
  /** The ranks that `totals` (an account's totals in the current windows) hold. */
  ranks(accountId: number, totals: Partial<Record<Period, number>>): Promise<Ranks>;
  /** Rebuilds the current boards the copy lost (a no-op without Redis). */
  ensure(): Promise<void>;
  /** Brings every current board of the copy up to PostgreSQL; rows applied. */
  reconcile(): Promise<number>;
  /** Replaces every current board of the copy with one built from PostgreSQL; rows applied. */
  replace(): Promise<number>;
  close(): void;
}

/** Builds the leaderboard. */
export function createLeaderboard(options: LeaderboardOptions): Leaderboard {
  const { sql, feed, clock, events } = options;
  const truth = truthReads(sql);
  const names = createUsernameCache(sql);
  let copy: RedisCopy | undefined;
  let upkeep: Upkeep | undefined;
  if (options.redis) {
    copy = createRedisCopy({
      redis: options.redis,
      prefix: options.prefix,
      names: (ids) => names.get(ids),
      onStray: (id) => upkeep!.repair(id, new Error(`account ${id} is ranked but not active`)),
    });
    upkeep = createUpkeep({ sql, copy, clock, events, changed: () => feed.announce() });
  }

  /**
   * Reads a board from the copy when it holds the current window and answers, else from
   * PostgreSQL; a lost board is rebuilt in the background meanwhile.
   */
  async function read<T>(
    window: Window,
    fromCopy: (copy: RedisCopy) => Promise<T | undefined>,
    fromTruth: (truth: BoardReads) => Promise<T>,
  ): Promise<T> {
    if (copy && isCurrent(window, clock.now())) {
      try {
        const value = await fromCopy(copy);
        if (value !== undefined) return value;
        upkeep!.rebuild(window);
      } catch (error) {
        events.onRedisError(error as Error);
      }
    }
    return await fromTruth(truth);
  }

  const readPage = (window: Window, limit: number, offset: number) =>
    read(window, (c) => c.page(window, limit, offset), (t) => t.page(window, limit, offset));

  /** Whether a page is answered from the cached top: within it, of a current board. */
  const fromTop = (window: Window, limit: number, offset: number) =>
    offset + limit <= TOP && isCurrent(window, clock.now());
  const top = createTopCache((window) => readPage(window, TOP, 0), () => feed.live);
  const unlisten = feed.listen(() => top.invalidate());

  return {
    window: (period, at) => windowAt(period, at ?? clock.now()),
    windows: (at = clock.now()) => windowsByPeriod(at),
    async record(state) {
      let rank: number | null | undefined;
      if (copy) {
        try {
          const result = await copy.write(state, windowsAt(state.at.getTime()));
          events.onScoreUpdate();
          for (const window of result.lost) {
            upkeep!.rebuild(window).then(() => upkeep!.repair(state.accountId));
          }
          if (result.above !== null) rank = result.above + 1;
        } catch (error) {
          upkeep!.repair(state.accountId, error as Error);
        }
      }
      feed.announce();
      if (state.hidden) return null;
      return rank ?? await truth.rankOf(ALL_TIME, state.accountId, state.totals.all);
    },
    async sync(accountIds) {
      if (copy) {
        try {
          const now = clock.now();
          const [, day, week, month] = windowsAt(now);
          for (const row of await q.accountStates(sql, accountIds, { day, week, month })) {
            const state = stateOf(row, now);
            const result = await copy.write(state, windowsAt(now));
            for (const window of result.lost) {
              upkeep!.rebuild(window).then(() => upkeep!.repair(state.accountId));
            }
          }
        } catch (error) {
          for (const id of accountIds) upkeep!.repair(id, error as Error);
        }
      }
      feed.announce();
    },
    stamp(window, limit, offset) {
      if (!fromTop(window, limit, offset) || !top.trusted) return undefined;
      return { version: top.version, current: () => isCurrent(window, clock.now()) };
    },
    // While the feed is not live, nobody is told of changes: no version holds.
    version: () => (top.trusted ? top.version : -1),
    async page(window, limit, offset) {
      if (fromTop(window, limit, offset)) {
        const page = await top.get(window);
        return { total: page.total, entries: page.entries.slice(offset, offset + limit) };
      }
      return await readPage(window, limit, offset);
    },
    entry: (window, accountId) =>
      read(window, (c) => c.entry(window, accountId), (t) => t.entry(window, accountId)),
    around: (window, accountId, radius) =>
      read(
        window,
        (c) => c.around(window, accountId, radius),
        (t) => t.around(window, accountId, radius),
      ),
    pick: (window, ids) => read(window, (c) => c.pick(window, ids), (t) => t.pick(window, ids)),
    async ranks(accountId, totals) {
      const pairs = windowsAt(clock.now())
        .filter((window) => totals[window.period] !== undefined)
        .map((window) => ({ window, total: totals[window.period]! }));
      let fromCopy: (number | undefined)[] = [];
      if (copy) {
        try {
          fromCopy = await copy.ranks(accountId, pairs);
        } catch (error) {
          events.onRedisError(error as Error);
        }
      }
      const ranks: Ranks = { all: null, day: null, week: null, month: null };
      await Promise.all(pairs.map(async ({ window, total }, i) => {
        ranks[window.period] = fromCopy[i] ?? await truth.rankOf(window, accountId, total);
      }));
      return ranks;
    },
    ensure: async () => await upkeep?.ensure(),
    reconcile: async () => await upkeep?.reconcile() ?? 0,
    replace: async () => await upkeep?.replace() ?? 0,
    close() {
      unlisten();
      upkeep?.close();
    },
  };
}
