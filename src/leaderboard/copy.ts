/**
 * The Redis copy of the boards: sorted sets that answer reads in one round trip, usernames
 * included, so that they need no PostgreSQL. Reads answer `undefined` for a board that was lost
 * (see keys.ts) and throw when Redis does not answer; the caller then asks PostgreSQL.
 */
import type { Redis } from "ioredis";
import { byRank, type Entry, rankRows, type Row } from "./entries.ts";
import { type RedisKeys, redisKeys } from "./keys.ts";
import type { Period, Window } from "./periods.ts";
import type { CopyRow } from "./queries.ts";
import { type ScriptedRedis, withScripts } from "./scripts.ts";
import type { PageEntries } from "./truth.ts";

/**
 * An account's place on the current boards at one revision (score_ledger.revision): its totals in
 * the windows of `at`, and whether it is shown at all (a deleted or suspended account is not).
 */
export interface AccountState {
  accountId: number;
  username: string;
  /** One more with every change of the account's totals or of whether it is shown. */
  revision: number;
  hidden: boolean;
  /** Its windows are the ones that contain this instant. */
  at: Date;
  totals: Record<Period, number>;
}

/** What writing a state did. */
export interface WriteResult {
  /** Accounts above it in the all-time board; null when it is hidden or that board lost. */
  above: number | null;
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
  /**
   * Puts the state on the boards of `windows`, each of which holds no newer revision of the
   * account (a state that arrives late changes nothing), and announces it.
   */
  write(state: AccountState, windows: readonly Window[]): Promise<WriteResult>;
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
  /**
   * Brings a board up to `batches` (each row where the board holds no newer revision) and marks
   * it complete.
   */
  reconcile(window: Window, batches: AsyncIterable<CopyRow[]>): Promise<number>;
  /** Builds a board aside from `batches` and swaps it in, replacing whatever was there. */
  replace(window: Window, batches: AsyncIterable<CopyRow[]>): Promise<number>;
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

  /** Applies a batch of rows to the board `set` (and its marker and revisions). */
  async function load(rows: CopyRow[], set: string, marker: string, revisions: string, at: number) {
    if (rows.length === 0) return 0;
    return await redis.sbLoad(
      set,
      marker,
      revisions,
      keys.names,
      at,
      ...rows.flatMap((row) => [
        row.account_id,
        row.username,
        row.revision,
        row.hidden ? 1 : 0,
        row.total_points,
      ]),
    );
  }

  return {
    keys,
    async write(state, windows) {
      const boards = windows.map((window) => keys.board(window));
      const reply = await redis.sbRecord(
        1 + 3 * boards.length,
        keys.names,
        ...boards.flatMap((board) => [board.set, board.marker, board.revisions]),
        state.accountId,
        state.username,
        state.revision,
        state.hidden ? 1 : 0,
        keys.channel,
        ...windows.flatMap((window, i) => [state.totals[window.period], boards[i].expireAt]),
      );
      return {
        above: reply[0] < 0 ? null : reply[0],
        lost: windows.filter((_, i) => reply[i + 1] === 1),
      };
    },
    async page(window, limit, offset) {
      const { set, marker, revisions } = keys.board(window);
      const reply = await redis.sbPage(
        set,
        marker,
        revisions,
        keys.names,
        offset,
        offset + limit - 1,
      );
      if (reply[0] === -1) return undefined;
      const [total, above, flat, names] = reply as [number, number, string[], (string | null)[]];
      return { total, entries: rankRows(await named(flat, 2, names), above, offset) };
    },
    async entry(window, accountId) {
      const { set, marker, revisions } = keys.board(window);
      const reply = await redis.sbPick(set, marker, revisions, keys.names, accountId);
      if (reply[0] === -1) return undefined;
      const [row] = await named(reply[1], 3, reply[2]);
      return row ? rankRows([row], row.above, row.above)[0] : null;
    },
    async around(window, accountId, radius) {
      const { set, marker, revisions } = keys.board(window);
      const reply = await redis.sbAround(set, marker, revisions, keys.names, accountId, radius);
      if (reply[0] === -1) return undefined;
      if (reply[0] === 0) return null;
      const [, start, above, flat, names] = reply;
      const rows = await named(flat, 2, names);
      if (!rows.some((row) => row.id === accountId)) return null;
      return rankRows(rows, above, start);
    },
    async pick(window, ids) {
      const { set, marker, revisions } = keys.board(window);
      const reply = await redis.sbPick(set, marker, revisions, keys.names, ...ids);
      if (reply[0] === -1) return undefined;
      const rows = await named(reply[1], 3, reply[2]);
      return byRank(rows.map((row) => rankRows([row], row.above, row.above)[0]));
    },
    async ranks(accountId, pairs) {
      if (pairs.length === 0) return [];
      const reply = await redis.sbRanks(
        3 * pairs.length,
        ...pairs.flatMap(({ window }) => {
          const { set, marker, revisions } = keys.board(window);
          return [set, marker, revisions];
        }),
        accountId,
        ...pairs.map(({ total }) => total),
      );
      return reply.map((above) => (above < 0 ? undefined : above + 1));
    },
    async lost(window) {
      const { set, marker, revisions } = keys.board(window);
      return (await redis.sbLost(set, marker, revisions)) === 1;
    },
    async reconcile(window, batches) {
      const { set, marker, revisions, expireAt } = keys.board(window);
      let count = 0;
      let shown = 0;
      for await (const rows of batches) {
        shown += await load(rows, set, marker, revisions, expireAt);
        count += rows.length;
      }
      // A board lost meanwhile is not marked complete: left lost, the next read or write rebuilds
      // it. (Accounts shown here and hidden meanwhile make the set smaller: a rebuild more.)
      await redis.sbMark(set, marker, revisions, expireAt, shown, count);
      return count;
    },
    async replace(window, batches) {
      const { set, marker, revisions, expireAt } = keys.board(window);
      const suffix = `:rebuild:${crypto.randomUUID()}`;
      const [builtSet, builtMarker, builtRevisions] = [set, marker, revisions].map((key) =>
        key + suffix
      );
      let count = 0;
      try {
        for await (const rows of batches) {
          await load(rows, builtSet, builtMarker, builtRevisions, 0);
          count += rows.length;
        }
        await redis.sbSwap(builtSet, builtRevisions, set, revisions, marker, expireAt);
      } finally {
        await redis.del(builtSet, builtMarker, builtRevisions).catch(() => {});
      }
      return count;
    },
  };
}
