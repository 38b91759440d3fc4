/**
 * The limits on requests that cost the service without failing (API.md): registrations per client
 * address (each costs a bcrypt hash; by default 20 an hour) and refreshes per session (by default
 * 30 a minute). Like the login limits, the counters live in Redis, shared by every instance, and
 * in memory without it.
 */
import type { Redis } from "ioredis";
import { type RateLimiterAbstract, RateLimiterRes } from "rate-limiter-flexible";
import { tooManyRequests } from "../http/problem.ts";
import { redisLimiter } from "../http/rate_limiter.ts";

/** Options of `createRequestLimits`. */
export interface RequestLimitOptions {
  /** null: one instance on its own, counters in memory. */
  redis: Redis | null;
  prefix: string;
  registrationsPerAddress: number;
  refreshesPerSession: number;
  /** A request was refused with 429. */
  onRefused?(kind: "registration" | "refresh"): void;
}

/** Each takes one from its limit, or throws the 429 problem when the limit is spent. */
export interface RequestLimits {
  /** Before a registration's password is hashed. */
  registration(address: string): Promise<void>;
  /** Before a refresh token of the session is rotated. */
  refresh(sessionId: number): Promise<void>;
}

const HOUR = 3600;
const MINUTE = 60;

/** Builds the limits. */
export function createRequestLimits(options: RequestLimitOptions): RequestLimits {
  const registrations = redisLimiter(options.redis, {
    keyPrefix: `${options.prefix}registrations:address`,
    points: options.registrationsPerAddress,
    duration: HOUR,
  });
  const refreshes = redisLimiter(options.redis, {
    keyPrefix: `${options.prefix}refreshes:session`,
    points: options.refreshesPerSession,
    duration: MINUTE,
  });

  /** Takes one point of `key`, or throws 429 with the wait until the window passes. */
  async function take(
    kind: "registration" | "refresh",
    limiter: RateLimiterAbstract,
    key: string,
    detail: string,
  ): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      options.onRefused?.(kind);
      throw tooManyRequests(refusal.msBeforeNext, `${detail}; try again after Retry-After.`);
    }
  }

  return {
    registration: (address) =>
      take("registration", registrations, address, "Too many registrations from this address"),
    refresh: (sessionId) =>
      take("refresh", refreshes, String(sessionId), "Too many refreshes of this session"),
  };
}
