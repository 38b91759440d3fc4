/**
 * The ranking. PostgreSQL's `score_ledger` is the truth; the Redis sorted set is a copy that
 * answers reads fast. Writes to the copy that fail are repaired from the truth a moment later,
 * reads fall back to PostgreSQL while Redis cannot answer, and a lost copy is rebuilt.
 */
import type { ChainableCommander, Redis } from "ioredis";
import type { Sql } from "postgres";
import type { RefreshFeed } from "./feed.ts";
import * as q from "./queries.ts";
import { type ScriptedPipeline, type ScriptedRedis, withScripts } from "./scripts.ts";
import { createUsernameCache } from "./usernames.ts";

/** One row of the leaderboard (API.md's `Entry`). */
export interface Entry {
  rank: number;
  accountId: number;
  username: string;
  totalPoints: number;
}

/** Where the ranking lives in Redis. */
export interface LeaderboardKeys {
  set: string;
  deleted: string;
  channel: string;
}

/** The keys under `prefix` (API.md: the prefix is prepended as it is). */
function leaderboardKeys(prefix: string): LeaderboardKeys {
  return {
    set: `${prefix}leaderboard`,
    deleted: `${prefix}leaderboard:deleted`,
    channel: `${prefix}scoreboard:refresh`,
  };
}

/** The size of the top that is cached in memory and streamed to browsers. */
export const TOP = 10;

/**
 * How long the cached top may be served. Every change announced on the feed drops it at once;
 * the age limit bounds what nobody announces (a set deleted by hand, a lost message).
 */
const TOP_CACHE_MS = 1000;

/** How long after a failed write to Redis the account is set again from PostgreSQL. */
const REPAIR_DELAY_MS = 1000;

/** How long a read that found the set missing waits for its rebuild before asking PostgreSQL. */
const MISSING_SET_WAIT_MS = 1000;

/** What the leaderboard reports to its owner. */
export interface LeaderboardEvents {
  /** A Redis command failed and PostgreSQL answered, or a repair was scheduled. */
  onRedisError(error: Error): void;
  /** A score went into the sorted set. */
  onScoreUpdate(): void;
}

/** Options of `createLeaderboard`. */
export interface LeaderboardOptions {
  sql: Sql;
  redis: Redis;
  /** Change notifications; without them the top is never cached. */
  feed?: RefreshFeed;
  prefix: string;
  events: LeaderboardEvents;
}

/** Reads and writes of the ranking. */
export interface Leaderboard {
  readonly keys: LeaderboardKeys;
  /**
   * Puts an account's new total into the ranking and announces it. Never throws: when Redis
   * cannot take it, a repair is scheduled. Returns the account's rank, computed by PostgreSQL
   * when Redis did not answer, or null for an account deleted meanwhile.
   */
  record(accountId: number, total: number): Promise<number | null>;
  /** Takes a (deleted) account off the ranking and announces it. Never throws. */
  remove(accountId: number): Promise<void>;
  /** The rank an active account with `total` points holds. */
  rankOf(accountId: number, total: number): Promise<number>;
  /** `limit` entries from `offset`, best first. */
  page(limit: number, offset: number): Promise<Entry[]>;
  /** One account's entry, or null when it has no points (or does not exist). */
  entry(accountId: number): Promise<Entry | null>;
  /**
   * Makes the sorted set hold at least what PostgreSQL holds, and no deleted account. Run it when
   * Redis comes back: a set that exists may still be stale (restarted empty, then written to).
   */
  reconcile(): Promise<number>;
  /** Replaces the sorted set with one built from PostgreSQL. */
  rebuild(): Promise<number>;
  /** Rebuilds the sorted set if it is missing while the ledger is not empty. */
  ensure(): Promise<void>;
  close(): void;
}

/** Builds the leaderboard on a command connection (`enableOfflineQueue: false`). */
export function createLeaderboard(options: LeaderboardOptions): Leaderboard {
  const { sql, feed, events } = options;
  const redis: ScriptedRedis = withScripts(options.redis);
  const keys = leaderboardKeys(options.prefix);
  const names = createUsernameCache(sql);

  // The default top 10 is what most clients poll: serve it from memory while the feed is live,
  // so that every change on any instance drops it. `generation` guards against a read that
  // started before a change filling the cache after it.
  let generation = 0;
  let cachedTop: { entries: Entry[]; at: number } | undefined;
  let topRead: { generation: number; promise: Promise<Entry[]> } | undefined;

  function invalidate(): void {
    generation++;
    cachedTop = undefined;
  }
  const unlisten = feed?.listen(invalidate);

  // Account ids whose place in Redis must be set again from PostgreSQL.
  const pending = new Set<number>();
  let repairTimer: ReturnType<typeof setTimeout> | undefined;
  let closed = false;

  function scheduleRepair(accountId: number, error: Error): void {
    events.onRedisError(error);
    pending.add(accountId);
    if (!repairTimer && !closed) repairTimer = setTimeout(repair, REPAIR_DELAY_MS);
  }

  async function repair(): Promise<void> {
    repairTimer = undefined;
    const ids = [...pending];
    pending.clear();
    try {
      const rows = await q.ledgerRows(sql, ids);
      const found = new Set(rows.map((row) => row.account_id));
      // An account without a ledger row cannot be ranked.
      const unranked = ids.filter((id) => !found.has(id));
      await apply([
        ...rows,
        ...unranked.map((id) => ({ account_id: id, total_points: 0, deleted: true })),
      ]);
      invalidate();
    } catch (error) {
      for (const id of ids) pending.add(id);
      events.onRedisError(error as Error);
      if (!closed) repairTimer = setTimeout(repair, REPAIR_DELAY_MS);
    }
  }

  /** Writes ledger rows to the set in one pipeline: totals (never lowering one), removals. */
  async function apply(rows: q.LedgerRow[]): Promise<void> {
    const pipeline = redis.pipeline() as ScriptedPipeline;
    for (const row of rows) {
      if (row.deleted) pipeline.sbRemove(keys.set, keys.deleted, row.account_id, keys.channel);
      else {
        pipeline.sbRecord(keys.set, keys.deleted, row.total_points, row.account_id, keys.channel);
      }
    }
    await exec(pipeline);
  }

  async function toEntries(rows: { id: number; score: number; rank: number }[]): Promise<Entry[]> {
    const known = await names.get(rows.map((row) => row.id));
    const entries: Entry[] = [];
    for (const row of rows) {
      const username = known.get(row.id);
      if (username === undefined) {
        // Ranked in Redis but deleted in PostgreSQL: a removal that has not reached Redis yet.
        scheduleRepair(row.id, new Error(`account ${row.id} is ranked but not active`));
        continue;
      }
      entries.push({ rank: row.rank, accountId: row.id, username, totalPoints: row.score });
    }
    return entries;
  }

  function fromDatabase(rows: q.RankedRow[]): Entry[] {
    return rows.map((row) => ({
      rank: row.rank,
      accountId: row.account_id,
      username: row.username,
      totalPoints: row.total_points,
    }));
  }

  // Each kind of rebuild runs once at a time; callers that find it running wait for that run.
  const running = new Map<() => Promise<number>, Promise<number>>();
  function once(work: () => Promise<number>): Promise<number> {
    let run = running.get(work);
    if (!run) {
      run = work().finally(() => running.delete(work));
      running.set(work, run);
    }
    return run;
  }

  /**
   * The set is gone while the ledger is not: rebuild it, waiting a moment for that (a small
   * ledger is rebuilt by then) but never long — PostgreSQL answers this read either way.
   */
  async function setMissing(): Promise<boolean> {
    if (!(await q.anyRanked(sql))) return false;
    const rebuilt = once(reconcile).catch((error) => events.onRedisError(error));
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      rebuilt,
      new Promise((resolve) => timer = setTimeout(resolve, MISSING_SET_WAIT_MS)),
    ]);
    clearTimeout(timer);
    return true;
  }

  async function readPage(limit: number, offset: number): Promise<Entry[]> {
    let reply: [string[], number, number];
    try {
      reply = await redis.sbPage(keys.set, offset, offset + limit - 1);
    } catch (error) {
      events.onRedisError(error as Error);
      return fromDatabase(await q.rankedPage(sql, limit, offset));
    }
    const [flat, above, exists] = reply;
    if (!exists && await setMissing()) return fromDatabase(await q.rankedPage(sql, limit, offset));
    const rows: { id: number; score: number; rank: number }[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const score = Number(flat[i + 1]);
      const previous = rows.at(-1);
      const rank = previous === undefined
        ? above + 1
        : previous.score === score
        ? previous.rank
        : offset + i / 2 + 1;
      rows.push({ id: Number(flat[i]), score, rank });
    }
    return await toEntries(rows);
  }

  function readTop(): Promise<Entry[]> {
    if (cachedTop && performance.now() - cachedTop.at < TOP_CACHE_MS) {
      return Promise.resolve(cachedTop.entries);
    }
    if (topRead?.generation === generation) return topRead.promise;
    const started = generation;
    const promise = readPage(TOP, 0).then((entries) => {
      if (started === generation && feed?.live) cachedTop = { entries, at: performance.now() };
      return entries;
    }).finally(() => {
      if (topRead?.promise === promise) topRead = undefined;
    });
    topRead = { generation: started, promise };
    return promise;
  }

  async function reconcile(): Promise<number> {
    let count = 0;
    for await (const rows of q.scanLedger(sql)) {
      await apply(rows);
      count += rows.length;
    }
    invalidate();
    return count;
  }

  async function ensureSet(): Promise<number> {
    if (await redis.exists(keys.set) === 1 || !(await q.anyRanked(sql))) return 0;
    return await reconcile();
  }

  async function rebuild(): Promise<number> {
    const suffix = `:rebuild:${crypto.randomUUID()}`;
    const built = keys.set + suffix;
    const builtDeleted = keys.deleted + suffix;
    try {
      for await (const rows of q.scanLedger(sql)) {
        const pipeline = redis.pipeline();
        for (const row of rows) {
          if (row.deleted) pipeline.sadd(builtDeleted, row.account_id);
          else pipeline.zadd(built, row.total_points, row.account_id);
        }
        await exec(pipeline);
      }
      await redis.sbSwap(built, builtDeleted, keys.set, keys.deleted);
    } finally {
      await redis.del(built, builtDeleted).catch(() => {});
    }
    // Completions that committed while the copy was built wrote to the old set: catch up.
    const count = await reconcile();
    await redis.publish(keys.channel, JSON.stringify({ accountId: null }));
    return count;
  }

  return {
    keys,
    async record(accountId, total) {
      try {
        const above = await redis.sbRecord(keys.set, keys.deleted, total, accountId, keys.channel);
        invalidate();
        events.onScoreUpdate();
        return above < 0 ? null : above + 1;
      } catch (error) {
        scheduleRepair(accountId, error as Error);
        return 1 + await q.countAbove(sql, total);
      }
    },
    async remove(accountId) {
      try {
        await redis.sbRemove(keys.set, keys.deleted, accountId, keys.channel);
        invalidate();
      } catch (error) {
        scheduleRepair(accountId, error as Error);
      }
    },
    async rankOf(accountId, total) {
      try {
        return 1 + await redis.sbAbove(keys.set, total, accountId);
      } catch (error) {
        events.onRedisError(error as Error);
        return 1 + await q.countAbove(sql, total);
      }
    },
    async page(limit, offset) {
      if (offset + limit <= TOP && feed?.live) {
        return (await readTop()).slice(offset, offset + limit);
      }
      return await readPage(limit, offset);
    },
    async entry(accountId) {
      let reply: [string | null, number];
      try {
        reply = await redis.sbEntry(keys.set, accountId);
      } catch (error) {
        events.onRedisError(error as Error);
        return await entryFromDatabase(accountId);
      }
      const [score, aboveOrExists] = reply;
      if (score === null) {
        if (!aboveOrExists && await setMissing()) return await entryFromDatabase(accountId);
        return null;
      }
      const [entry] = await toEntries([
        { id: accountId, score: Number(score), rank: aboveOrExists + 1 },
      ]);
      return entry ?? null;
    },
    reconcile: () => once(reconcile),
    rebuild: () => once(rebuild),
    ensure: () => once(ensureSet).then(() => {}),
    close() {
      closed = true;
      unlisten?.();
      clearTimeout(repairTimer);
    },
  };

  async function entryFromDatabase(accountId: number): Promise<Entry | null> {
    const total = await q.totalOf(sql, accountId);
    if (total === undefined) return null;
    const [name] = (await names.get([accountId])).values();
    if (name === undefined) return null;
    return {
      rank: 1 + await q.countAbove(sql, total),
      accountId,
      username: name,
      totalPoints: total,
    };
  }
}

/** Runs a pipeline and throws the first error among its replies. */
async function exec(pipeline: ChainableCommander): Promise<void> {
  for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
}
