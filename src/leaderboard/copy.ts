/**
 * The Redis copy of the boards: sorted sets that answer reads in one round trip, usernames
 * included, so that they need no PostgreSQL. Reads answer `undefined` for a board that was lost
 * (see keys.ts) and throw when Redis does not answer; the caller then asks PostgreSQL.
 */
import type { ChainableCommander, Redis } from "ioredis";
import { byRank, type Entry, rankRows, type Row } from "./entries.ts";
import { type RedisKeys, redisKeys } from "./keys.ts";
import type { Period, Window } from "./periods.ts";
import type { CopyRow } from "./queries.ts";
import { type ScriptedRedis, withScripts } from "./scripts.ts";
import type { PageEntries } from "./truth.ts";

/** What a completion changed: the account's new totals in the windows of `at`. */
export interface ScoreChange {
  accountId: number;
  username: string;
  /** When it was completed: its windows are the ones that contain this instant. */
  at: Date;
  totals: Record<Period, number>;
}

/** What writing a change did. */
export interface WriteResult {
  /** Accounts above it in the all-time board; null when the account is deleted or that board lost. */
  above: number | null;
  deleted: boolean;
  /** Boards that were lost, so not written: they must be rebuilt, then the account repaired. */
  lost: Window[];
}

/** Options of `createRedisCopy`. */
export interface RedisCopyOptions {
  redis: Redis;
  prefix: string;
  /** Usernames the names hash lacks (evicted, say); absent from the map: no longer active. */
  names(ids: number[]): Promise<Map<number, string>>;
  /** A ranked account turned out not to be active: a removal that has not reached Redis yet. */
  onStray(accountId: number): void;
}

/** The copy's reads and writes. */
export interface RedisCopy {
  readonly keys: RedisKeys;
  write(change: ScoreChange, windows: readonly Window[]): Promise<WriteResult>;
  /** Takes a deleted account off the boards of `windows` and remembers it as deleted. */
  remove(accountId: number, windows: readonly Window[]): Promise<void>;
  page(window: Window, limit: number, offset: number): Promise<PageEntries | undefined>;
  entry(window: Window, accountId: number): Promise<Entry | null | undefined>;
  around(window: Window, accountId: number, radius: number): Promise<Entry[] | null | undefined>;
  pick(window: Window, ids: number[]): Promise<Entry[] | undefined>;
  /** For each (window, total): the rank that total holds, or undefined where the board is lost. */
  ranks(
    accountId: number,
    pairs: readonly { window: Window; total: number }[],
  ): Promise<(number | undefined)[]>;
  /** Whether the board was lost (or never built). */
  lost(window: Window): Promise<boolean>;
  /** Brings a board up to `batches` (never lowering a score) and marks it complete. */
  reconcile(window: Window, batches: AsyncIterable<CopyRow[]>): Promise<number>;
  /**
   * Builds a board aside from `batches` and swaps it in (with the deleted set, for all time),
   * replacing whatever was there.
   */
  replace(window: Window, batches: AsyncIterable<CopyRow[]>): Promise<number>;
}

/** Runs a pipeline and throws the first error among its replies. */
async function exec(pipeline: ChainableCommander): Promise<void> {
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
}

/** The copy under `prefix` on a command connection (`enableOfflineQueue: false`). */
export function createRedisCopy(options: RedisCopyOptions): RedisCopy {
  const redis: ScriptedRedis = withScripts(options.redis);
  const keys = redisKeys(options.prefix);

  /**
   * Rows from a flat reply of `step` values each (id, score[, members above]) and their names
   * from the hash; names the hash lacks are looked up, and accounts no longer active left out.
   */
  async function named(flat: (string | number)[], step: 2 | 3, names: (string | null)[]) {
    const rows: (Row & { above: number })[] = [];
    for (let i = 0; i < flat.length; i += step) {
      rows.push({
        id: Number(flat[i]),
        name: names[i / step] ?? "",
        points: Number(flat[i + 1]),
        above: step === 3 ? Number(flat[i + 2]) : 0,
      });
    }
    const missing = rows.filter((row) => row.name === "").map((row) => row.id);
    if (missing.length === 0) return rows;
    const found = await options.names(missing);
    return rows.filter((row) => {
      if (row.name !== "") return true;
      const name = found.get(row.id);
      if (name === undefined) options.onStray(row.id);
      else row.name = name;
      return name !== undefined;
    });
  }

  async function apply(rows: CopyRow[], set: string, deleted: string) {
    const pipeline = redis.pipeline();
    for (const row of rows) {
      if (row.deleted) {
        pipeline.zrem(set, row.account_id);
        pipeline.sadd(deleted, row.account_id);
      } else {
        pipeline.zadd(set, "GT", row.total_points, row.account_id);
        pipeline.hset(keys.names, row.account_id, row.username);
      }
    }
    await exec(pipeline);
  }

  return {
    keys,
    async write(change, windows) {
      const boards = windows.map((window) => keys.board(window));
      const reply = await redis.sbRecord(
        2 + 2 * boards.length,
        keys.deleted,
        keys.names,
        ...boards.flatMap((board) => [board.set, board.marker]),
        change.accountId,
        change.username,
        keys.channel,
        ...windows.flatMap((window, i) => [
          change.totals[window.period],
          boards[i].expireAt,
        ]),
      );
      if (reply.length === 1) return { above: null, deleted: true, lost: [] };
      return {
        above: reply[0] < 0 ? null : reply[0],
        deleted: false,
        lost: windows.filter((_, i) => reply[i + 1] === 1),
      };
    },
    async remove(accountId, windows) {
      const boards = windows.map((window) => keys.board(window));
      await redis.sbRemove(
        2 + 2 * boards.length,
        keys.deleted,
        keys.names,
        ...boards.flatMap((board) => [board.set, board.marker]),
        accountId,
        keys.channel,
      );
    },
    async page(window, limit, offset) {
      const { set, marker } = keys.board(window);
      const reply = await redis.sbPage(set, marker, keys.names, offset, offset + limit - 1);
      if (reply[0] === -1) return undefined;
      const [total, above, flat, names] = reply as [number, number, string[], (string | null)[]];
      return { total, entries: rankRows(await named(flat, 2, names), above, offset) };
    },
    async entry(window, accountId) {
      const { set, marker } = keys.board(window);
      const reply = await redis.sbPick(set, marker, keys.names, accountId);
      if (reply[0] === -1) return undefined;
      const [row] = await named(reply[1], 3, reply[2]);
      return row ? rankRows([row], row.above, row.above)[0] : null;
    },
    async around(window, accountId, radius) {
      const { set, marker } = keys.board(window);
      const reply = await redis.sbAround(set, marker, keys.names, accountId, radius);
      if (reply[0] === -1) return undefined;
      if (reply[0] === 0) return null;
      const [, start, above, flat, names] = reply;
      const rows = await named(flat, 2, names);
      if (!rows.some((row) => row.id === accountId)) return null;
      return rankRows(rows, above, start);
    },
    async pick(window, ids) {
      const { set, marker } = keys.board(window);
      const reply = await redis.sbPick(set, marker, keys.names, ...ids);
      if (reply[0] === -1) return undefined;
      const rows = await named(reply[1], 3, reply[2]);
      return byRank(rows.map((row) => rankRows([row], row.above, row.above)[0]));
    },
    async ranks(accountId, pairs) {
      if (pairs.length === 0) return [];
      const reply = await redis.sbRanks(
        2 * pairs.length,
        ...pairs.flatMap(({ window }) => {
          const { set, marker } = keys.board(window);
          return [set, marker];
        }),
        accountId,
        ...pairs.map(({ total }) => total),
      );
      return reply.map((above) => (above < 0 ? undefined : above + 1));
    },
    async lost(window) {
      const { set, marker } = keys.board(window);
      return (await redis.sbLost(set, marker)) === 1;
    },
    async reconcile(window, batches) {
      const { set, marker, expireAt } = keys.board(window);
      let count = 0;
      let ranked = 0;
      for await (const rows of batches) {
        await apply(rows, set, keys.deleted);
        count += rows.length;
        ranked += rows.filter((row) => !row.deleted).length;
      }
      // A set lost meanwhile is not marked complete: left lost, the next read or write rebuilds it.
      await redis.sbMark(set, marker, expireAt, ranked);
      return count;
    },
    async replace(window, batches) {
      const { set, marker, expireAt } = keys.board(window);
      const suffix = `:rebuild:${crypto.randomUUID()}`;
      const built = set + suffix;
      // Tombstones are rebuilt with the all-time board; a window's rebuild keeps them.
      const builtDeleted = window.start === null ? keys.deleted + suffix : keys.deleted;
      let count = 0;
      try {
        for await (const rows of batches) {
          await apply(rows, built, builtDeleted);
          count += rows.length;
        }
        await redis.sbSwap(3, built, set, marker, expireAt);
        if (builtDeleted !== keys.deleted) await redis.sbSwap(2, builtDeleted, keys.deleted, 0);
      } finally {
        await redis.del(built, ...(builtDeleted === keys.deleted ? [] : [builtDeleted]))
          .catch(() => {});
      }
      return count;
    },
  };
}
