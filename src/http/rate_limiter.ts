/** Counters in Redis shared by every instance (rate-limiter-flexible), with a stand-in in memory. */
import type { Redis } from "ioredis";
import {
  type RateLimiterAbstract,
  RateLimiterMemory,
  RateLimiterRedis,
} from "rate-limiter-flexible";

/**
 * A fixed-window limiter of `points` per `duration` seconds under `keyPrefix`. While Redis is
 * away (the command connection fails fast) an in-memory limiter of the same shape answers, so
 * limits hold per instance instead of failing open or failing requests. Without Redis (one
 * instance on its own) the limiter is in memory.
 */
export function redisLimiter(
  redis: Redis | null,
  options: { keyPrefix: string; points: number; duration: number },
): RateLimiterAbstract {
  if (redis === null) return new RateLimiterMemory(options);
  return new RateLimiterRedis({
    storeClient: redis,
    ...options,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory(options),
  });
}
