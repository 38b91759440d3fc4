/**
 * Lua scripts on the Redis copy, each one atomic and one round trip. Every script that reads or
 * writes a board checks its marker first (see keys.ts) and answers "lost" (-1) instead of
 * trusting, or re-creating, a set that is no longer complete.
 */
import type { Redis } from "ioredis";

/** Shared Lua: whether a board is lost, how many members rank strictly above `total`, … */
const HELPERS = `
local function lost(set, marker, revisions)
  local built = redis.call('GET', marker)
  return (not built)
    or (built == '1' and (redis.call('EXISTS', set) == 0 or redis.call('EXISTS', revisions) == 0))
end
local function above(set, total, id)
  local n = redis.call('ZCOUNT', set, '(' .. total, '+inf')
  local own = redis.call('ZSCORE', set, id)
  if own and tonumber(own) > tonumber(total) then n = n - 1 end
  return n
end
local function expire(key, at)
  if tonumber(at) > 0 then redis.call('EXPIREAT', key, at) end
end
local function ids(rows)
  local list = {}
  for i = 1, #rows, 2 do list[#list + 1] = rows[i] end
  return list
end
-- Puts an account's state at revision rev on a board whose marker says built (nil: a rebuild,
-- which marks the board itself once it is whole), unless the board holds a newer one: shown with
-- total (a total of 0 is not shown), or hidden. Answers 'lost' when the board's revisions are gone
-- (an eviction), else whether the set changed.
local function apply(set, marker, revisions, built, id, rev, hidden, total, at)
  local held = redis.call('HGET', revisions, id)
  if not held then
    if built == '1' and redis.call('EXISTS', revisions) == 0 then return 'lost' end
  elseif tonumber(held) > tonumber(rev) then
    return false
  end
  if redis.call('HSET', revisions, id, rev) == 1 then expire(revisions, at) end
  local changed
  if hidden or tonumber(total) <= 0 then
    changed = redis.call('ZREM', set, id) == 1
    if built and changed and redis.call('EXISTS', set) == 0 then
      redis.call('SET', marker, '0', 'KEEPTTL')
    end
  else
    changed = redis.call('ZADD', set, 'CH', total, id) == 1
    -- A complete, empty board was just created by this ZADD: mark it, give it an end.
    if built == '0' then
      redis.call('SET', marker, '1')
      expire(set, at)
      expire(marker, at)
    end
  end
  return changed
end
`;

const SCRIPTS = {
  /**
   * KEYS names, then (set, marker, revisions) per board; ARGV id, username, revision, hidden (1 or
   * 0), channel, then (total, expireAt) per board → { members above in the first board, or -1
   * (lost, or hidden), then 1 per board that was lost or 0 }. Applies the state on each board that
   * holds no newer one (see `apply`); publishes once when any board changed. A board without a
   * marker (being rebuilt, or to be) takes the state too, as a rebuild's row: a rebuild that read
   * PostgreSQL before this state committed then finds it newer and keeps it, rather than mark the
   * board complete without it. (A set gone under a marker that says built is written nothing: it
   * would look complete.)
   */
  sbRecord: {
    numberOfKeys: -1,
    lua: `${HELPERS}
local id, rev, hidden = ARGV[1], ARGV[3], ARGV[4] == '1'
local result = { -1 }
local changed = false
for i = 1, (#KEYS - 1) / 3 do
  local set, marker, revisions = KEYS[3 * i - 1], KEYS[3 * i], KEYS[3 * i + 1]
  local total, at = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local built = redis.call('GET', marker)
  local applied = 'lost'
  if not built then
    apply(set, marker, revisions, nil, id, rev, hidden, total, at)
    expire(set, at)
  elseif not (built == '1' and redis.call('EXISTS', set) == 0) then
    applied = apply(set, marker, revisions, built, id, rev, hidden, total, at)
  end
  if applied == 'lost' then
    result[i + 1] = 1
  else
    if applied then changed = true end
    if i == 1 and not hidden then result[1] = above(set, total, id) end
    result[i + 1] = 0
  end
end
if not hidden then redis.call('HSET', KEYS[1], id, ARGV[2]) end
if changed then redis.call('PUBLISH', ARGV[5], '{"accountId":' .. id .. '}') end
return result`,
  },
  /**
   * KEYS set, marker, revisions, names; ARGV expireAt, then (id, username, revision, hidden,
   * total) per account: a batch of a rebuild, each applied as sbRecord does → the number of
   * accounts shown. Publishes nothing (the rebuild announces itself). A board found lost (a
   * reconcile into the live set, whose set was dropped under it) loses its marker first: the rows
   * written from here on must not make a partial set look complete to the reads.
   */
  sbLoad: {
    numberOfKeys: 4,
    lua: `${HELPERS}
if lost(KEYS[1], KEYS[2], KEYS[3]) then redis.call('DEL', KEYS[2]) end
local shown = 0
for i = 2, #ARGV, 5 do
  local id, hidden, total = ARGV[i], ARGV[i + 3] == '1', ARGV[i + 4]
  apply(KEYS[1], KEYS[2], KEYS[3], nil, id, ARGV[i + 2], hidden, total, ARGV[1])
  if not hidden and tonumber(total) > 0 then
    shown = shown + 1
    redis.call('HSET', KEYS[4], id, ARGV[i + 1])
  end
end
return shown`,
  },
  /**
   * KEYS set, marker, revisions, names; ARGV start, stop → { -1 } when lost, else { ranked
   * members, members above the first row, flat id/score rows, their names }.
   */
  sbPage: {
    numberOfKeys: 4,
    lua: `${HELPERS}
if lost(KEYS[1], KEYS[2], KEYS[3]) then return { -1 } end
local rows = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
local total = redis.call('ZCARD', KEYS[1])
if #rows == 0 then return { total, 0, rows, {} } end
return { total, redis.call('ZCOUNT', KEYS[1], '(' .. rows[2], '+inf'), rows,
  redis.call('HMGET', KEYS[4], unpack(ids(rows))) }`,
  },
  /**
   * KEYS set, marker, revisions, names; ARGV id, radius → { -1 } when lost, { 0 } when not
   * ranked, else { 1, the first row's place (0-based), members above it, flat id/score rows
   * around the account, their names }.
   */
  sbAround: {
    numberOfKeys: 4,
    lua: `${HELPERS}
if lost(KEYS[1], KEYS[2], KEYS[3]) then return { -1 } end
local at = redis.call('ZREVRANK', KEYS[1], ARGV[1])
if not at then return { 0 } end
local radius = tonumber(ARGV[2])
local start = math.max(0, at - radius)
local rows = redis.call('ZREVRANGE', KEYS[1], start, at + radius, 'WITHSCORES')
return { 1, start, redis.call('ZCOUNT', KEYS[1], '(' .. rows[2], '+inf'), rows,
  redis.call('HMGET', KEYS[4], unpack(ids(rows))) }`,
  },
  /**
   * KEYS set, marker, revisions, names; ARGV ids → { -1 } when lost, else { 1, flat
   * id/score/above rows of the ranked ones, their names }.
   */
  sbPick: {
    numberOfKeys: 4,
    lua: `${HELPERS}
if lost(KEYS[1], KEYS[2], KEYS[3]) then return { -1 } end
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
return { 1, rows, redis.call('HMGET', KEYS[4], unpack(found)) }`,
  },
  /**
   * KEYS (set, marker, revisions) per board; ARGV id, then a total per board → per board the
   * members above that total (not counting the account itself), or -1 when the board is lost.
   */
  sbRanks: {
    numberOfKeys: -1,
    lua: `${HELPERS}
local result = {}
for i = 1, #KEYS / 3 do
  local set, marker, revisions = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  if lost(set, marker, revisions) then result[i] = -1
  else result[i] = above(set, ARGV[i + 1], ARGV[1]) end
end
return result`,
  },
  /** KEYS set, marker, revisions → 1 when the board was lost (see keys.ts), else 0. */
  sbLost: {
    numberOfKeys: 3,
    lua: `${HELPERS}
return lost(KEYS[1], KEYS[2], KEYS[3]) and 1 or 0`,
  },
  /**
   * KEYS set, marker, revisions; ARGV expireAt, ranked (the accounts the set was just brought up
   * to date with), states (the accounts whose revisions were written): marks the set complete →
   * 1; or, when it holds fewer than that, or its revisions fewer (lost while it was written: a
   * flush, an eviction — or an account hidden meanwhile, which costs a rebuild more), leaves it
   * lost for the next read or write to rebuild → 0.
   */
  sbMark: {
    numberOfKeys: 3,
    lua: `${HELPERS}
local size = redis.call('ZCARD', KEYS[1])
if size < tonumber(ARGV[2]) or redis.call('HLEN', KEYS[3]) < tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[2])
  return 0
end
redis.call('SET', KEYS[2], size > 0 and '1' or '0')
expire(KEYS[1], ARGV[1])
expire(KEYS[2], ARGV[1])
expire(KEYS[3], ARGV[1])
return 1`,
  },
  /**
   * KEYS built set, built revisions, target set, target revisions, target marker; ARGV
   * expireAt: moves a board built aside into place (an empty one deletes the target) and marks it
   * complete.
   */
  sbSwap: {
    numberOfKeys: 5,
    lua: `${HELPERS}
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists then redis.call('RENAME', KEYS[1], KEYS[3]) else redis.call('DEL', KEYS[3]) end
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[4])
else redis.call('DEL', KEYS[4]) end
redis.call('SET', KEYS[5], exists and '1' or '0')
expire(KEYS[3], ARGV[1])
expire(KEYS[4], ARGV[1])
expire(KEYS[5], ARGV[1])
return 1`,
  },
} as const;

type Arg = string | number;

/** A Redis client with the scripts defined on it (`numberOfKeys` -1: the count comes first). */
export interface ScriptedRedis extends Redis {
  sbRecord(keyCount: number, ...keysAndArgs: Arg[]): Promise<number[]>;
  sbLoad(set: string, marker: string, revisions: string, names: string, ...args: Arg[]): Promise<
    number
  >;
  sbPage(...keysAndArgs: [string, string, string, string, Arg, Arg]): Promise<
    [-1] | [number, number, string[], (string | null)[]]
  >;
  sbAround(...keysAndArgs: [string, string, string, string, Arg, Arg]): Promise<
    [-1] | [0] | [1, number, number, string[], (string | null)[]]
  >;
  sbPick(set: string, marker: string, revisions: string, names: string, ...ids: Arg[]): Promise<
    [-1] | [1, (string | number)[], (string | null)[]]
  >;
  sbRanks(keyCount: number, ...keysAndArgs: Arg[]): Promise<number[]>;
  sbLost(set: string, marker: string, revisions: string): Promise<number>;
  sbMark(...keysAndArgs: [string, string, string, Arg, Arg, Arg]): Promise<number>;
  sbSwap(...keysAndArgs: [string, string, string, string, string, Arg]): Promise<number>;
}

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
