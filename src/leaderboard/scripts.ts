/**
 * Lua scripts on the Redis copy, each one atomic and one round trip. Every script that reads or
 * writes a board checks its marker first (see keys.ts) and answers "lost" (-1) instead of
 * trusting, or re-creating, a set that is no longer complete.
 */
import type { ChainableCommander, Redis } from "ioredis";

/** Shared Lua: whether a board is lost, and how many members rank strictly above `total`. */
const HELPERS = `
local function lost(set, marker)
  local built = redis.call('GET', marker)
  return (not built) or (built == '1' and redis.call('EXISTS', set) == 0)
end
local function above(set, total, id)
  local n = redis.call('ZCOUNT', set, '(' .. total, '+inf')
  local own = redis.call('ZSCORE', set, id)
  if own and tonumber(own) > tonumber(total) then n = n - 1 end
  return n
end
local function expire(set, marker, at)
  if tonumber(at) > 0 then
    redis.call('EXPIREAT', set, at)
    redis.call('EXPIREAT', marker, at)
  end
end
local function ids(rows)
  local list = {}
  for i = 1, #rows, 2 do list[#list + 1] = rows[i] end
  return list
end
`;

const SCRIPTS = {
  /**
   * KEYS deleted, names, then (set, marker) per board; ARGV id, username, channel, then (total,
   * expireAt) per board → { -1 } for a deleted account, else { members above in the first board
   * or -1, then 1 per board that was lost (not written) or 0 }. Never lowers a score (ZADD GT);
   * publishes once when any board changed.
   */
  sbRecord: {
    numberOfKeys: -1,
    lua: `${HELPERS}
local id = ARGV[1]
if redis.call('SISMEMBER', KEYS[1], id) == 1 then return { -1 } end
local result = { -1 }
local changed = false
for i = 1, (#KEYS - 2) / 2 do
  local set, marker = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  local total, at = ARGV[2 + 2 * i], ARGV[3 + 2 * i]
  local built = redis.call('GET', marker)
  if (not built) or (built == '1' and redis.call('EXISTS', set) == 0) then
    result[i + 1] = 1
  else
    if redis.call('ZADD', set, 'GT', 'CH', total, id) == 1 then changed = true end
    -- A complete, empty board was just created by this ZADD: mark it, give both an end.
    if built ~= '1' then
      redis.call('SET', marker, '1')
      expire(set, marker, at)
    end
    if i == 1 then result[1] = above(set, total, id) end
    result[i + 1] = 0
  end
end
redis.call('HSET', KEYS[2], id, ARGV[2])
if changed then redis.call('PUBLISH', ARGV[3], '{"accountId":' .. id .. '}') end
return result`,
  },
  /**
   * KEYS deleted, names, then (set, marker) per board; ARGV id, channel → 1 if it was ranked
   * anywhere. Remembers the account as deleted, so that a late write cannot bring it back.
   */
  sbRemove: {
    numberOfKeys: -1,
    lua: `
local id = ARGV[1]
redis.call('SADD', KEYS[1], id)
redis.call('HDEL', KEYS[2], id)
local removed = 0
for i = 1, (#KEYS - 2) / 2 do
  local set, marker = KEYS[1 + 2 * i], KEYS[2 + 2 * i]
  if redis.call('ZREM', set, id) == 1 then
    removed = 1
    if redis.call('EXISTS', set) == 0 and redis.call('EXISTS', marker) == 1 then
      redis.call('SET', marker, '0', 'KEEPTTL')
    end
  end
end
if removed == 1 then redis.call('PUBLISH', ARGV[2], '{"accountId":' .. id .. '}') end
return removed`,
  },
  /**
   * KEYS set, marker, names; ARGV start, stop → { -1 } when lost, else { ranked members,
   * members above the first row, flat id/score rows, their names }.
   */
  sbPage: {
    numberOfKeys: 3,
    lua: `${HELPERS}
if lost(KEYS[1], KEYS[2]) then return { -1 } end
local rows = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
local total = redis.call('ZCARD', KEYS[1])
if #rows == 0 then return { total, 0, rows, {} } end
return { total, redis.call('ZCOUNT', KEYS[1], '(' .. rows[2], '+inf'), rows,
  redis.call('HMGET', KEYS[3], unpack(ids(rows))) }`,
  },
  /**
   * KEYS set, marker, names; ARGV id, radius → { -1 } when lost, { 0 } when not ranked, else
   * { 1, the first row's place (0-based), members above it, flat id/score rows around the
   * account, their names }.
   */
  sbAround: {
    numberOfKeys: 3,
    lua: `${HELPERS}
if lost(KEYS[1], KEYS[2]) then return { -1 } end
local at = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not at then return { 0 } end
local radius = tonumber(ARGV[2])
local start = math.max(0, at - radius)
local rows = redis.call('ZREVRANGE', KEYS[1], start, at + radius, 'WITHSCORES')
return { 1, start, redis.call('ZCOUNT', KEYS[1], '(' .. rows[2], '+inf'), rows,
  redis.call('HMGET', KEYS[3], unpack(ids(rows))) }`,
  },
  /**
   * KEYS set, marker, names; ARGV ids → { -1 } when lost, else { 1, flat id/score/above rows of
   * the ranked ones, their names }.
   */
  sbPick: {
    numberOfKeys: 3,
    lua: `${HELPERS}
if lost(KEYS[1], KEYS[2]) then return { -1 } end
local rows, found = {}, {}
for i = 1, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score then
    rows[#rows + 1] = ARGV[i]
    rows[#rows + 1] = score
    rows[#rows + 1] = redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf')
    found[#found + 1] = ARGV[i]
  end
end
if #found == 0 then return { 1, rows, {} } end
return { 1, rows, redis.call('HMGET', KEYS[3], unpack(found)) }`,
  },
  /**
   * KEYS (set, marker) per board; ARGV id, then a total per board → per board the members above
   * that total (not counting the account itself), or -1 when the board is lost.
   */
  sbRanks: {
    numberOfKeys: -1,
    lua: `${HELPERS}
local result = {}
for i = 1, #KEYS / 2 do
  local set, marker = KEYS[2 * i - 1], KEYS[2 * i]
  if lost(set, marker) then result[i] = -1 else result[i] = above(set, ARGV[i + 1], ARGV[1]) end
end
return result`,
  },
  /** KEYS set, marker → 1 when the board was lost (see keys.ts), else 0. */
  sbLost: {
    numberOfKeys: 2,
    lua: `${HELPERS}
return lost(KEYS[1], KEYS[2]) and 1 or 0`,
  },
  /**
   * KEYS set, marker; ARGV expireAt, ranked (the accounts the set was just brought up to date
   * with): marks the set complete → 1; or, when it holds fewer than that (lost while it was
   * written: a flush, an eviction — or an account deleted meanwhile, which costs a rebuild more),
   * leaves it lost for the next read or write to rebuild → 0.
   */
  sbMark: {
    numberOfKeys: 2,
    lua: `${HELPERS}
local size = redis.call('ZCARD', KEYS[1])
if size < tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return 0
end
redis.call('SET', KEYS[2], size > 0 and '1' or '0')
expire(KEYS[1], KEYS[2], ARGV[1])
return 1`,
  },
  /**
   * KEYS built, target, and optionally the target's marker; ARGV expireAt: moves a copy built
   * aside into place (an empty copy deletes the target) and marks it complete.
   */
  sbSwap: {
    numberOfKeys: -1,
    lua: `${HELPERS}
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists then redis.call('RENAME', KEYS[1], KEYS[2]) else redis.call('DEL', KEYS[2]) end
if KEYS[3] then
  redis.call('SET', KEYS[3], exists and '1' or '0')
  expire(KEYS[2], KEYS[3], ARGV[1])
end
return 1`,
  },
} as const;

type Arg = string | number;

/** A Redis client with the scripts defined on it (`numberOfKeys` -1: the count comes first). */
export interface ScriptedRedis extends Redis {
  sbRecord(keyCount: number, ...keysAndArgs: Arg[]): Promise<number[]>;
  sbRemove(keyCount: number, ...keysAndArgs: Arg[]): Promise<number>;
  sbPage(set: string, marker: string, names: string, start: Arg, stop: Arg): Promise<
    [-1] | [number, number, string[], (string | null)[]]
  >;
  sbAround(set: string, marker: string, names: string, id: Arg, radius: Arg): Promise<
    [-1] | [0] | [1, number, number, string[], (string | null)[]]
  >;
  sbPick(set: string, marker: string, names: string, ...ids: Arg[]): Promise<
    [-1] | [1, (string | number)[], (string | null)[]]
  >;
  sbRanks(keyCount: number, ...keysAndArgs: Arg[]): Promise<number[]>;
  sbLost(set: string, marker: string): Promise<number>;
  sbMark(set: string, marker: string, expireAt: Arg, ranked: Arg): Promise<number>;
  sbSwap(keyCount: number, ...keysAndArgs: Arg[]): Promise<number>;
}

/** A pipeline of a ScriptedRedis. */
export type ScriptedPipeline = ChainableCommander & {
  sbRecord(keyCount: number, ...keysAndArgs: Arg[]): ScriptedPipeline;
};

/** Defines the scripts on `redis` (ioredis runs them by EVALSHA, loading them when needed). */
export function withScripts(redis: Redis): ScriptedRedis {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) {
      const numberOfKeys = script.numberOfKeys < 0 ? undefined : script.numberOfKeys;
      redis.defineCommand(name, { numberOfKeys, lua: script.lua });
    }
  }
  return redis as ScriptedRedis;
}
