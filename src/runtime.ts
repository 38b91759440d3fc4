/**
 * The runtime: every client and long-lived service of one instance, opened from a Config and
 * closed in order. `createApp` takes it; tests open one on their own database and key prefix.
 */
import { getLogger, type Logger } from "@logtape/logtape";
import { Redis } from "ioredis";
import { join } from "node:path";
import type { Sql } from "postgres";
import { type Completions, createCompletions } from "./actions/completions.ts";
import { createLoginLimiter } from "./auth/login_limiter.ts";
import { createPasswordHasher, type PasswordHasher } from "./auth/password_hasher.ts";
import { createSessions, type Sessions } from "./auth/sessions.ts";
import { type AccessTokens, createAccessTokens } from "./auth/tokens.ts";
import type { Config } from "./config.ts";
import { keptSecret } from "./data_dir.ts";
import { connectDatabase } from "./db/mod.ts";
import { openRefreshFeed, type RefreshFeed } from "./leaderboard/feed.ts";
import { createLeaderboard, type Leaderboard, TOP } from "./leaderboard/leaderboard.ts";
import { createLiveHub, type LiveHub } from "./live/hub.ts";
import { createMetrics, type Metrics } from "./ops/metrics.ts";

/** One instance's clients and services. */
export interface Runtime {
  readonly config: Config;
  readonly log: Logger;
  readonly sql: Sql;
  /** Commands; fails fast while Redis is away (no offline queue). */
  readonly redis: Redis;
  /** The pub/sub connection; waits for Redis and subscribes again by itself. */
  readonly subscriber: Redis;
  readonly metrics: Metrics;
  readonly hasher: PasswordHasher;
  readonly tokens: AccessTokens;
  readonly feed: RefreshFeed;
  readonly leaderboard: Leaderboard;
  readonly sessions: Sessions;
  readonly completions: Completions;
  readonly hub: LiveHub;
  close(): Promise<void>;
}

/** How long `openRuntime` waits for Redis before it starts without it. */
const REDIS_STARTUP_WAIT_MS = 3000;

function waitForReady(redis: Redis, ms: number): Promise<void> {
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

/**
 * The key that signs access tokens: JWT_SECRET; else, in the embedded mode, one kept in DATA_DIR
 * (made on the first start) so that tokens outlive a restart; else a random one, with a warning.
 */
export async function accessTokenSecret(config: Config, log: Logger): Promise<Uint8Array> {
  if (config.jwtSecret !== null) return new TextEncoder().encode(config.jwtSecret);
  if (config.databaseUrl === null) {
    return new TextEncoder().encode(await keptSecret(join(config.dataDir, "jwt-secret")));
  }
  log.warn(
    "JWT_SECRET is not set: this instance signs with a random key, so its access tokens " +
      "die with it and are not accepted by other instances",
  );
  return crypto.getRandomValues(new Uint8Array(32));
}

/**
 * Opens the clients and services described by `config`. `databaseUrl` is the embedded
 * PostgreSQL's when DATABASE_URL is unset (see `main.ts`).
 */
export async function openRuntime(
  config: Config,
  log: Logger = getLogger(["scoreboard"]),
  databaseUrl: string | null = config.databaseUrl,
): Promise<Runtime> {
  if (databaseUrl === null) throw new Error("openRuntime: no database URL");
  const secret = await accessTokenSecret(config, log);
  const sql = connectDatabase(databaseUrl, config.databasePoolSize);
  const redis = new Redis(config.redisUrl, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectionName: "scoreboard",
  });
  const subscriber = new Redis(config.redisUrl, {
    maxRetriesPerRequest: null,
    connectionName: "scoreboard-subscriber",
  });
  const redisLog = log.getChild("redis");
  let redisDown = false;
  for (const client of [redis, subscriber]) {
    client.on("error", (error: Error) => {
      if (!redisDown) {
        redisLog.warn("Redis connection error: {message}", { message: error.message });
      }
      redisDown = true;
    });
    client.on("ready", () => {
      if (redisDown) redisLog.info("Redis connection is back");
      redisDown = false;
    });
  }

  const metrics = createMetrics();
  const hasher = createPasswordHasher({
    workers: config.bcryptWorkers,
    cost: config.bcryptCost,
    onJob: (op) => metrics.bcryptJobs.inc({ op }),
  });
  const tokens = createAccessTokens(secret, config.accessTokenTtl);
  const feed = openRefreshFeed(
    subscriber,
    `${config.redisKeyPrefix}scoreboard:refresh`,
    (error) => redisLog.warn("refresh feed: {message}", { message: error.message }),
  );
  await waitForReady(redis, REDIS_STARTUP_WAIT_MS);
  const leaderboard = createLeaderboard({
    sql,
    redis,
    feed,
    prefix: config.redisKeyPrefix,
    events: {
      onRedisError: () => metrics.redisErrors.inc(),
      onScoreUpdate: () => metrics.scoreUpdates.inc(),
    },
  });
  // The first connection rebuilds a missing set; every reconnection after an outage catches up.
  let connectedBefore = false;
  function onRedisReady(): void {
    const work = connectedBefore ? leaderboard.reconcile() : leaderboard.ensure();
    connectedBefore = true;
    work.catch((error) =>
      redisLog.warn("rebuilding the ranking failed: {message}", { message: error.message })
    );
  }
  redis.on("ready", onRedisReady);
  if (redis.status === "ready") onRedisReady();

  const sessions = createSessions({
    sql,
    hasher,
    tokens,
    leaderboard,
    refreshTokenTtl: config.refreshTokenTtl,
    limiter: createLoginLimiter({
      redis,
      prefix: config.redisKeyPrefix,
      perEmail: config.loginMaxFailuresPerEmail,
      perAddress: config.loginMaxFailuresPerAddress,
      windowSeconds: config.loginFailureWindow,
    }),
  });

  const completions = createCompletions({
    sql,
    redis,
    prefix: config.redisKeyPrefix,
    leaderboard,
    perSecond: config.completionsPerSecond,
  });

  const hub = createLiveHub({
    feed,
    top: () => leaderboard.page(TOP, 0),
    intervalMs: config.broadcastIntervalMs,
    heartbeatMs: config.sseHeartbeatMs,
    retryMs: config.sseRetryMs,
    maxClients: config.sseMaxClients,
    maxBufferedBytes: config.sseMaxBufferedBytes,
    onStreams: (count) => metrics.openStreams.set(count),
    onBroadcast: () => metrics.broadcasts.inc(),
    onError: (error) =>
      log.warn("reading the top 10 failed: {message}", { message: error.message }),
  });

  return {
    config,
    log,
    sql,
    redis,
    subscriber,
    metrics,
    hasher,
    tokens,
    feed,
    leaderboard,
    sessions,
    completions,
    hub,
    async close() {
      hub.close();
      redis.off("ready", onRedisReady);
      leaderboard.close();
      await feed.close();
      hasher.close();
      // QUIT lets replies in flight arrive; with Redis away it would wait, so just disconnect.
      await Promise.allSettled(
        [subscriber, redis].map((client) =>
          client.status === "ready" ? client.quit() : client.disconnect()
        ),
      );
      await sql.end({ timeout: 5 });
    },
  };
}
