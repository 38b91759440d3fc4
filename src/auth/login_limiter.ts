/**
 * Failed-login limits (API.md): by default 5 failures per email or 50 per client address in 15
 * minutes, then 429 until the window passes. Counters live in Redis (rate-limiter-flexible) so
 * that every instance shares them; while Redis is away an in-memory limiter stands in.
 *
 * Only failures count, so that many sign-ins at once from one office or one app are never
 * refused. So that parallel guesses at one account cannot all slip past the check before any of
 * them has failed, attempts for one email run one after another on each instance.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { RateLimiterRes } from "rate-limiter-flexible";
import { tooManyRequests } from "../http/problem.ts";
import { redisLimiter } from "../http/rate_limiter.ts";

/** Options of `createLoginLimiter`. */
export interface LoginLimiterOptions {
  /** null: one instance on its own, counters in memory. */
  redis: Redis | null;
  prefix: string;
  perEmail: number;
  perAddress: number;
  windowSeconds: number;
  /** An attempt was refused with 429 because a limit is spent. */
  onRefused?(by: "email" | "address"): void;
  /** A failure spent a limit: the email (its key, a hash) or the address is locked out. */
  onLocked?(by: "email" | "address", key: string): void;
}

/** Guards login attempts. */
export interface LoginLimiter {
  /**
   * Runs `attempt` (which verifies the password and says whether it matched) unless a limit is
   * spent, in which case it throws a 429 problem. Counts a failure, or clears the email's count.
   */
  guard(email: string, address: string, attempt: () => Promise<boolean>): Promise<boolean>;
}

/** Emails are kept out of Redis: the counter's key is a hash of the address. */
function emailKey(email: string): string {
  return createHash("sha256").update(email).digest("base64url");
}

/** Calls `fn` once every earlier call for the same key has settled. */
function serialiser() {
  const tails = new Map<string, Promise<unknown>>();
  return async function serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = tails.get(key) ?? Promise.resolve();
    const run = previous.catch(() => {}).then(fn);
    tails.set(key, run);
    try {
      return await run;
    } finally {
      if (tails.get(key) === run) tails.delete(key);
    }
  };
}

/** Builds the limiter. */
export function createLoginLimiter(options: LoginLimiterOptions): LoginLimiter {
  const { redis, prefix, windowSeconds } = options;
  const byAddress = redisLimiter(redis, {
    keyPrefix: `${prefix}login-failures:address`,
    points: options.perAddress,
    duration: windowSeconds,
  });
  const byEmail = redisLimiter(redis, {
    keyPrefix: `${prefix}login-failures:email`,
    points: options.perEmail,
    duration: windowSeconds,
  });
  const serial = serialiser();

  /** Milliseconds until the spent limit frees up and which one, or 0 when neither is spent. */
  async function wait(emailId: string, address: string) {
    const spent = (res: RateLimiterRes | null, points: number) =>
      res !== null && res.consumedPoints >= points ? res.msBeforeNext : 0;
    const [email, from] = await Promise.all([byEmail.get(emailId), byAddress.get(address)]);
    const byEmailMs = spent(email, options.perEmail);
    const byAddressMs = spent(from, options.perAddress);
    return {
      ms: Math.max(byEmailMs, byAddressMs),
      by: byEmailMs >= byAddressMs ? "email" as const : "address" as const,
    };
  }

  /** Counts a failure against one limit, reporting the failure that spends it. */
  async function fail(by: "email" | "address", key: string): Promise<void> {
    const [limiter, points] = by === "email"
      ? [byEmail, options.perEmail]
      : [byAddress, options.perAddress];
    // A rejection only means the count went past the limit: the lock-out was reported then.
    const res = await limiter.consume(key).catch(() => null);
    if (res?.consumedPoints === points) options.onLocked?.(by, key);
  }

  return {
    guard(email, address, attempt) {
      const emailId = emailKey(email);
      return serial(emailId, async () => {
        const { ms, by } = await wait(emailId, address);
        if (ms > 0) {
          options.onRefused?.(by);
          throw tooManyRequests(ms, "Too many failed sign-ins; try again after Retry-After.");
        }
        const ok = await attempt();
        if (ok) {
          await byEmail.delete(emailId);
        } else {
          await Promise.all([fail("email", emailId), fail("address", address)]);
        }
        return ok;
      });
    },
  };
}
