/**
 * The runtime: every client and long-lived service of one instance, opened from a Config and
 * closed in order. `createApp` takes it; tests open one on their own database and key prefix.
 */
import { getLogger, type Logger } from "@logtape/logtape";
import type { Redis } from "ioredis";
import type { Sql } from "postgres";
import { type Completions, createCompletions } from "./actions/completions.ts";
import { createLoginLimiter } from "./auth/login_limiter.ts";
import { createRequestLimits } from "./auth/request_limits.ts";
import { createPasswordHasher, type PasswordHasher } from "./auth/password_hasher.ts";
import { createSessions, type Sessions } from "./auth/sessions.ts";
import { type AccessTokens, createAccessTokens } from "./auth/tokens.ts";
import type { Config } from "./config.ts";
import { operatorToken } from "./auth/operator.ts";
import { accessTokenSecret } from "./auth/secret.ts";
import { type Database, openDatabase } from "./db/database.ts";
import type { SchemaState } from "./db/startup.ts";
import { openLocalFeed, openRedisFeed, type RefreshFeed } from "./leaderboard/feed.ts";
import { createLeaderboard, type Leaderboard } from "./leaderboard/leaderboard.ts";
import { type Clock, systemClock } from "./leaderboard/periods.ts";
import { TOP } from "./leaderboard/top_cache.ts";
import { createLiveHub, type LiveHub } from "./live/hub.ts";
import { createModeration, type Moderation } from "./moderation/service.ts";
import { type Audit, auditLog } from "./ops/audit.ts";
import type { AccessLogWriter } from "./ops/logging.ts";
import { createMetrics, type Metrics } from "./ops/metrics.ts";
import { connectRedis, waitForReady } from "./redis/connect.ts";
import { refusalOf } from "./redis/refusals.ts";

/** How long `openRuntime` waits for Redis before it starts without it. */
const REDIS_STARTUP_WAIT_MS = 3000;

/** How often an instance looks for suspensions that have ended. */
const SUSPENSION_SWEEP_MS = 1000;

/** One instance's clients and services. */
export interface Runtime {
  readonly config: Config;
  /** The operator token (ADMIN_TOKEN, or the one the embedded mode keeps), or null: no /admin. */
  readonly adminToken: string | null;
  /** Where the instance keeps the operator token it made, or null. */
  readonly adminTokenFile: string | null;
  readonly log: Logger;
  readonly clock: Clock;
  /** PostgreSQL, watched: a pool replaced after an outage. */
  readonly database: Database;
  /** Whether the migrations have run; until then only what Redis holds is served. */
  readonly schema: SchemaState;
  /** Set once the instance is stopping: unready, every answer closes its connection. */
  readonly lifecycle: { draining: boolean };
  readonly sql: Sql;
  /** Commands, or null without Redis; fails fast while Redis is away (no offline queue). */
  readonly redis: Redis | null;
  /** The pub/sub connection, or null; waits for Redis and subscribes again by itself. */
  readonly subscriber: Redis | null;
  readonly metrics: Metrics;
  readonly audit: Audit;
  /** The access log's writer, or null: no line per request. */
  readonly accessLog: AccessLogWriter | null;
  readonly hasher: PasswordHasher;
  readonly tokens: AccessTokens;
  readonly feed: RefreshFeed;
  readonly leaderboard: Leaderboard;
  readonly sessions: Sessions;
  readonly completions: Completions;
  readonly moderation: Moderation;
  readonly hub: LiveHub;
  close(): Promise<void>;
}

/** Extra pieces an owner (main.ts, a test) may pass in. */
export interface RuntimeOptions {
  clock?: Clock;
  /** The database to use when DATABASE_URL is unset: the embedded PostgreSQL's. */
  databaseUrl?: string;
  /** False while the migrations wait for PostgreSQL (see `src/db/startup.ts`). */
  schemaReady?: boolean;
  /** Where the access log goes (`configureLogging`'s writer); none without it. */
  accessLog?: AccessLogWriter | null;
}

/** Opens the clients and services described by `config`. */
export async function openRuntime(
  config: Config,
  log: Logger = getLogger(["scoreboard"]),
  options: RuntimeOptions = {},
): Promise<Runtime> {
  const clock = options.clock ?? systemClock;
  const databaseUrl = options.databaseUrl ?? config.databaseUrl;
  if (databaseUrl === null) throw new Error("openRuntime: no database URL");
  const secret = await accessTokenSecret(config, log);
  const operator = await operatorToken(config);
  const metrics = createMetrics(config.redis === null ? "single-instance" : "scale-out");
  const audit = auditLog(log);
  const dbLog = log.getChild("postgres");
  metrics.postgresUp.set(1);
  const database = openDatabase(databaseUrl, {
    poolSize: config.databasePoolSize,
    prepare: config.databasePrepare,
    onState(up, detail) {
      metrics.postgresUp.set(up ? 1 : 0);
      if (up) dbLog.info(detail);
      else dbLog.warn(detail);
    },
    onQuery: (seconds, ok) =>
      metrics.queryDuration.observe({ outcome: ok ? "ok" : "error" }, seconds),
    onInFlight: (count) => metrics.queriesInFlight.set(count),
  });
  const sql = database.sql;
  const redisLog = log.getChild("redis");
  const { redis, subscriber } = config.redis === null
    ? { redis: null, subscriber: null }
    : connectRedis(config.redis, config.redisCommandTimeoutMs, redisLog);

  if (redis) {
    metrics.redisUp.set(0);
    redis.on("ready", () => metrics.redisUp.set(1));
    redis.on("close", () => metrics.redisUp.set(0));
  }
  const hasher = createPasswordHasher({
    workers: config.bcryptWorkers,
    cost: config.bcryptCost,
    onJob(op, waited) {
      metrics.bcryptJobs.inc({ op });
      metrics.bcryptWait.observe({ op }, waited);
    },
    onQueue: (length) => metrics.bcryptQueue.set(length),
  });
  const tokens = createAccessTokens(secret, config.accessTokenTtl);
  const onFeedError = (error: Error) =>
    redisLog.warn("refresh feed: {message}", { message: error.message });
  const feed = subscriber
    ? openRedisFeed(subscriber, `${config.redisKeyPrefix}scoreboard:refresh`, onFeedError)
    : openLocalFeed(onFeedError);
  metrics.subscriptionUp.set(feed.live ? 1 : 0);
  feed.listen(() => metrics.subscriptionUp.set(feed.live ? 1 : 0));
  if (redis) await waitForReady(redis, REDIS_STARTUP_WAIT_MS);
  const leaderboard = createLeaderboard({
    sql,
    redis,
    prefix: config.redisKeyPrefix,
    feed,
    clock,
    events: {
      onRedisError(error) {
        metrics.redisErrors.inc();
        const reply = refusalOf(error);
        if (reply !== null) metrics.redisRefusals.inc({ reply });
      },
      onScoreUpdate: () => metrics.scoreUpdates.inc(),
      onRebuild: (kind, window, seconds) =>
        metrics.rebuilds.observe({ kind, period: window.period }, seconds),
      onRebuildFailed: (kind, window) =>
        metrics.rebuildFailures.inc({ kind, period: window.period }),
    },
  });
  // Every connection — the first one too — brings each current board up to PostgreSQL, lost or
  // not: a board that outlived this instance may have missed writes meanwhile (a Redis failover
  // loses what the old master had not passed on; an outage loses what was written then), and a
  // reconnection may be to a new master. A board already right costs a scan of its rows in
  // PostgreSQL and a check of their revisions in Redis, nothing written.
  function onRedisReady(): void {
    leaderboard.reconcile().catch((error) =>
      redisLog.warn("rebuilding the ranking failed: {message}", { message: error.message })
    );
  }
  if (redis) {
    redis.on("ready", onRedisReady);
    if (redis.status === "ready") onRedisReady();
  }

  const moderation = createModeration({
    sql,
    leaderboard,
    clock,
    audit,
    sweepMs: SUSPENSION_SWEEP_MS,
    onError: (error) =>
      dbLog.warn("reinstating ended suspensions failed: {message}", { message: error.message }),
  });
  moderation.start();

  const sessions = createSessions({
    sql,
    clock,
    reinstateDue: (id) => moderation.reinstateDue(id),
    hasher,
    tokens,
    leaderboard,
    refreshTokenTtl: config.refreshTokenTtl,
    refreshTokenReuseInterval: config.refreshTokenReuseInterval,
    audit,
    limiter: createLoginLimiter({
      redis,
      prefix: config.redisKeyPrefix,
      perEmail: config.loginMaxFailuresPerEmail,
      perAddress: config.loginMaxFailuresPerAddress,
      windowSeconds: config.loginFailureWindow,
      onRefused: (by) => metrics.rateLimited.inc({ kind: `login-${by}` }),
      // The email's key is a hash: the address of the email never reaches the log.
      onLocked: (by, key) =>
        audit("login.locked", by === "email" ? { emailKey: key } : { address: key }),
    }),
    limits: createRequestLimits({
      redis,
      prefix: config.redisKeyPrefix,
      registrationsPerAddress: config.registrationsPerAddress,
      refreshesPerSession: config.refreshesPerSession,
      onRefused: (kind) => metrics.rateLimited.inc({ kind }),
    }),
  });

  const completions = createCompletions({
    sql,
    leaderboard,
    clock,
    perSecond: config.completionsPerSecond,
    concurrency: config.completionStatements,
    // Half the requests' deadline: those waiting behind a stuck statement still have time.
    stallMs: config.requestTimeoutMs / 2,
    onLimited: () => metrics.rateLimited.inc({ kind: "completions" }),
    onBatch: (size) => metrics.completionBatches.observe(size),
  });

  const hub = createLiveHub({
    feed,
    clock,
    top: async (period) => {
      const window = leaderboard.window(period);
      return { window, ...await leaderboard.page(window, TOP, 0) };
    },
    intervalMs: config.broadcastIntervalMs,
    heartbeatMs: config.sseHeartbeatMs,
    retryMs: config.sseRetryMs,
    lifetimeMs: config.sseMaxLifetimeS * 1000,
    maxClients: config.sseMaxClients,
    maxBufferedBytes: config.sseMaxBufferedBytes,
    attach: config.httpServer === "node",
    onStreams: (count) => metrics.openStreams.set(count),
    onBroadcast(period, delay) {
      metrics.broadcasts.inc({ period });
      if (delay !== null) metrics.broadcastDelay.observe({ period }, delay);
    },
    onRefused: (reason) => metrics.streamsRefused.inc({ reason }),
    onSlowReader: () => metrics.slowReadersDropped.inc(),
    onError: (error) =>
      log.warn("reading the top 10 failed: {message}", { message: error.message }),
  });

  return {
    config,
    adminToken: operator.token,
    adminTokenFile: operator.file,
    log,
    clock,
    database,
    schema: { ready: options.schemaReady ?? true },
    lifecycle: { draining: false },
    sql,
    redis,
    subscriber,
    metrics,
    audit,
    accessLog: options.accessLog ?? null,
    hasher,
    tokens,
    feed,
    leaderboard,
    sessions,
    completions,
    moderation,
    hub,
    async close() {
      hub.close();
      moderation.close();
      redis?.off("ready", onRedisReady);
      leaderboard.close();
      await feed.close();
      hasher.close();
      // QUIT lets replies in flight arrive; with Redis away it would wait, so just disconnect.
      await Promise.allSettled(
        [subscriber, redis].filter((client) => client !== null).map((client) =>
          client.status === "ready" ? client.quit() : client.disconnect()
        ),
      );
      await database.close();
      metrics.close();
    },
  };
}
