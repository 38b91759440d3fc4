/**
 * Lua scripts on the ranking, each one atomic and one round trip. Keys: the sorted set and the
 * set of deleted accounts (tombstones), so that a score written just after a deletion is refused.
 */
import type { ChainableCommander, Redis } from "ioredis";

/** How many members rank strictly above `total`, not counting `id` itself. */
const COUNT_ABOVE = `
local function above(set, total, id)
  local n = redis.call('ZCOUNT', set, '(' .. total, '+inf')
  local own = redis.call('ZSCORE', set, id)
  if own and tonumber(own) > tonumber(total) then n = n - 1 end
  return n
end
`;

const SCRIPTS = {
  /** KEYS set, deleted; ARGV total, id, channel → members above, or -1 for a deleted account. */
  sbRecord: {
    numberOfKeys: 2,
    lua: `${COUNT_ABOVE}
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 1 then return -1 end
if redis.call('ZADD', KEYS[1], 'GT', 'CH', ARGV[1], ARGV[2]) == 1 then
  redis.call('PUBLISH', ARGV[3], '{"accountId":' .. ARGV[2] .. '}')
end
return above(KEYS[1], ARGV[1], ARGV[2])`,
  },
  /** KEYS set, deleted; ARGV id, channel → 1 if it was ranked. */
  sbRemove: {
    numberOfKeys: 2,
    lua: `
redis.call('SADD', KEYS[2], ARGV[1])
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 then
  redis.call('PUBLISH', ARGV[2], '{"accountId":' .. ARGV[1] .. '}')
end
return removed`,
  },
  /** KEYS set; ARGV total, id → members above. */
  sbAbove: {
    numberOfKeys: 1,
    lua: `${COUNT_ABOVE}
return above(KEYS[1], ARGV[1], ARGV[2])`,
  },
  /** KEYS set; ARGV start, stop → { flat id/score list, members above the first, set exists }. */
  sbPage: {
    numberOfKeys: 1,
    lua: `
local rows = redis.call('ZREVRANGE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
if #rows == 0 then return { rows, 0, redis.call('EXISTS', KEYS[1]) } end
return { rows, redis.call('ZCOUNT', KEYS[1], '(' .. rows[2], '+inf'), 1 }`,
  },
  /** KEYS set; ARGV id → { score or nil, members above or whether the set exists }. */
  sbEntry: {
    numberOfKeys: 1,
    lua: `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return { false, redis.call('EXISTS', KEYS[1]) } end
return { score, redis.call('ZCOUNT', KEYS[1], '(' .. score, '+inf') }`,
  },
  /** KEYS built set, built tombstones, set, deleted: moves the built copies into place. */
  sbSwap: {
    numberOfKeys: 4,
    lua: `
for i = 1, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('RENAME', KEYS[i], KEYS[i + 2])
  else
    redis.call('DEL', KEYS[i + 2])
  end
end
return 1`,
  },
} as const;

type Arg = string | number;

/** A Redis client with the scripts defined on it. */
export interface ScriptedRedis extends Redis {
  sbRecord(set: string, deleted: string, total: Arg, id: Arg, channel: string): Promise<number>;
  sbRemove(set: string, deleted: string, id: Arg, channel: string): Promise<number>;
  sbAbove(set: string, total: Arg, id: Arg): Promise<number>;
  sbPage(set: string, start: Arg, stop: Arg): Promise<[string[], number, number]>;
  sbEntry(set: string, id: Arg): Promise<[string | null, number]>;
  sbSwap(built: string, builtDeleted: string, set: string, deleted: string): Promise<number>;
}

/** A pipeline of a ScriptedRedis. */
export type ScriptedPipeline = ChainableCommander & {
  sbRecord(set: string, deleted: string, total: Arg, id: Arg, channel: string): ScriptedPipeline;
  sbRemove(set: string, deleted: string, id: Arg, channel: string): ScriptedPipeline;
};

/** Defines the scripts on `redis` (ioredis runs them by EVALSHA, loading them when needed). */
export function withScripts(redis: Redis): ScriptedRedis {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    if (!(name in redis)) {
      redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
    }
  }
  return redis as ScriptedRedis;
}
