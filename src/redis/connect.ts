/**
 * The two Redis connections of an instance: commands that fail fast while Redis is away, and the
 * subscription that waits for it. Both time out on a Redis that stalls instead of refusing.
 */
import type { Logger } from "@logtape/logtape";
import type { Redis } from "ioredis";
import type { RedisTarget } from "../config.ts";
import { redisClient } from "./target.ts";

/** Resolves once `redis` is ready, or after `ms` anyway. */
export function waitForReady(redis: Redis, ms: number): Promise<void> {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off("ready", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    redis.once("ready", done);
  });
}

/** The two Redis connections of an instance, with their failures logged once per outage. */
export function connectRedis(target: RedisTarget, commandTimeoutMs: number, log: Logger) {
  const redis = redisClient(target, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A Redis that stalls (a stopped process, a black-holed network) sends nothing back: a
    // command fails after this long, the connection is dropped, and new commands fail at once
    // until it is back, so that requests fall back instead of hanging.
    commandTimeout: commandTimeoutMs,
    socketTimeout: commandTimeoutMs,
    // Commands sent in the same tick go out in one write: requests in flight share it.
    enableAutoPipelining: true,
    // Not the rate limiters' script (rate-limiter-flexible defines it on the client): an automatic
    // pipeline made before a command is defined lacks it, and calling it there throws
    // `results[i] is not iterable` outside any promise, which ends the process (ioredis #1931,
    // fixed in 6.1 by #2180). Limits are counted seldom: they lose nothing by going alone.
    autoPipeliningIgnoredCommands: ["rlflxIncr"],
    connectionName: "scoreboard",
  });
  const subscriber = redisClient(target, {
    maxRetriesPerRequest: null,
    socketTimeout: commandTimeoutMs,
    connectionName: "scoreboard-subscriber",
  });
  let down = false;
  for (const client of [redis, subscriber]) {
    client.on("error", (error: Error) => {
      if (!down) log.warn("Redis connection error: {message}", { message: error.message });
      down = true;
    });
    client.on("ready", () => {
      if (down) log.info("Redis connection is back");
      down = false;
    });
  }
  return { redis, subscriber };
}
