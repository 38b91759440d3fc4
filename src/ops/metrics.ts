/** Prometheus metrics of one instance (prom-client, on a registry of its own). */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import client from "prom-client";
import { VERSION } from "../version.ts";
import { processMetrics } from "./process_metrics.ts";
import { requestMetrics } from "./request_metrics.ts";

const PREFIX = "scoreboard_";

/** Seconds, from a millisecond to a minute: requests, queries, delays, rebuilds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** The instance's metrics. */
export interface Metrics {
  readonly registry: client.Registry;
  // Streams
  readonly openStreams: client.Gauge;
  readonly streamsRefused: client.Counter<"reason">;
  readonly slowReadersDropped: client.Counter;
  readonly broadcasts: client.Counter<"period">;
  readonly broadcastDelay: client.Histogram<"period">;
  // Ranking
  readonly scoreUpdates: client.Counter;
  readonly redisErrors: client.Counter;
  readonly redisRefusals: client.Counter<"reply">;
  readonly rebuilds: client.Histogram<"kind" | "period">;
  readonly rebuildFailures: client.Counter<"kind" | "period">;
  readonly redisUp: client.Gauge;
  readonly subscriptionUp: client.Gauge;
  // PostgreSQL
  readonly postgresUp: client.Gauge;
  readonly queriesInFlight: client.Gauge;
  readonly queryDuration: client.Histogram<"outcome">;
  readonly completionBatches: client.Histogram;
  readonly unsafeTransactions: client.Counter;
  // Limits and passwords
  readonly rateLimited: client.Counter<"kind">;
  readonly bcryptJobs: client.Counter<"op">;
  readonly bcryptQueue: client.Gauge;
  readonly bcryptWait: client.Histogram<"op">;
  /** Counts and times one request by route pattern, method and status (see `createApp`). */
  observe(route: string, method: string, status: number, seconds: number): void;
  /** Stops the event-loop probe. */
  close(): void;
}

/** Creates the metrics; `mode` (scale-out, single-instance) goes into the build info. */
export function createMetrics(mode: string): Metrics {
  const registry = new client.Registry();
  const registers = [registry];
  const stopProcessMetrics = processMetrics(registry, PREFIX);
  new client.Gauge({
    name: `${PREFIX}build_info`,
    help: "The running build: version, Deno and mode (always 1).",
    labelNames: ["version", "deno", "mode"],
    registers,
  }).set({ version: VERSION, deno: Deno.version.deno, mode }, 1);

  const observe = requestMetrics(registry, PREFIX, BUCKETS);

  return {
    registry,
    close: stopProcessMetrics,
    openStreams: new client.Gauge({
      name: `${PREFIX}sse_open_streams`,
      help: "Leaderboard streams open on this instance.",
      registers,
    }),
    streamsRefused: new client.Counter({
      name: `${PREFIX}sse_streams_refused_total`,
      help: "Streams refused with 503: at SSE_MAX_CLIENTS (full) or while draining (closing).",
      labelNames: ["reason"],
      registers,
    }),
    slowReadersDropped: new client.Counter({
      name: `${PREFIX}sse_slow_readers_dropped_total`,
      help: "Streams dropped because their client stopped reading.",
      registers,
    }),
    broadcasts: new client.Counter({
      name: `${PREFIX}sse_broadcasts_total`,
      help: "Top-10 events sent to this instance's streams (each once, to all of them), by board.",
      labelNames: ["period"],
      registers,
    }),
    broadcastDelay: new client.Histogram({
      name: `${PREFIX}sse_broadcast_delay_seconds`,
      help: "From the first change heard (a commit here, a message from elsewhere) to the " +
        "broadcast that carries it, by board.",
      labelNames: ["period"],
      buckets: BUCKETS,
      registers,
    }),
    scoreUpdates: new client.Counter({
      name: `${PREFIX}score_updates_total`,
      help: "Completions written to the Redis copy of the boards.",
      registers,
    }),
    redisErrors: new client.Counter({
      name: `${PREFIX}redis_errors_total`,
      help: "Redis commands that failed (PostgreSQL answered, or a repair was scheduled).",
      registers,
    }),
    redisRefusals: new client.Counter({
      name: `${PREFIX}redis_refusals_total`,
      help: "Redis commands refused by a Redis that answers (READONLY, MOVED, CROSSSLOT…), " +
        "by reply: a replica, a cluster or a server that does not fit the service.",
      labelNames: ["reply"],
      registers,
    }),
    rebuilds: new client.Histogram({
      name: `${PREFIX}rebuild_duration_seconds`,
      help: "Boards of the Redis copy rebuilt from PostgreSQL (reconcile: brought up to date; " +
        "replace: built aside and swapped in), by kind and period.",
      labelNames: ["kind", "period"],
      buckets: BUCKETS,
      registers,
    }),
    rebuildFailures: new client.Counter({
      name: `${PREFIX}rebuild_failures_total`,
      help: "Rebuilds of a board of the Redis copy that failed, by kind and period.",
      labelNames: ["kind", "period"],
      registers,
    }),
    redisUp: new client.Gauge({
      name: `${PREFIX}redis_up`,
      help: "1 while the Redis command connection is ready (absent without Redis).",
      registers,
    }),
    subscriptionUp: new client.Gauge({
      name: `${PREFIX}redis_subscription_up`,
      help: "1 while this instance hears every instance's changes (its subscription is live).",
      registers,
    }),
    postgresUp: new client.Gauge({
      name: `${PREFIX}postgres_up`,
      help: "0 from a failed check until PostgreSQL answers again.",
      registers,
    }),
    queriesInFlight: new client.Gauge({
      name: `${PREFIX}postgres_queries_in_flight`,
      help: "Queries of this instance waiting for PostgreSQL (a pool of DATABASE_POOL_SIZE).",
      registers,
    }),
    queryDuration: new client.Histogram({
      name: `${PREFIX}postgres_query_duration_seconds`,
      help: "Queries run through the pool (transactions' own queries excluded), by outcome.",
      labelNames: ["outcome"],
      buckets: BUCKETS,
      registers,
    }),
    completionBatches: new client.Histogram({
      name: `${PREFIX}completion_batch_size`,
      help: "Completions per statement: those that arrive while COMPLETION_STATEMENTS are in " +
        "flight go together in the next one.",
      buckets: [1, 2, 4, 8, 16, 32, 64],
      registers,
    }),
    unsafeTransactions: new client.Counter({
      name: `${PREFIX}postgres_unsafe_transactions_total`,
      help: "Requests whose PostgreSQL session was inside a transaction that nothing held: the " +
        "connection destroyed (its work rolled back), the request answered 503. Any is a bug.",
      registers,
    }),
    rateLimited: new client.Counter({
      name: `${PREFIX}rate_limited_total`,
      help: "Requests refused with 429, by limit (login by email or address, completions).",
      labelNames: ["kind"],
      registers,
    }),
    bcryptJobs: new client.Counter({
      name: `${PREFIX}bcrypt_jobs_total`,
      help: "Password hashes and verifications run by the bcrypt workers.",
      labelNames: ["op"],
      registers,
    }),
    bcryptQueue: new client.Gauge({
      name: `${PREFIX}bcrypt_queue_length`,
      help: "Password jobs waiting for a free bcrypt worker.",
      registers,
    }),
    bcryptWait: new client.Histogram({
      name: `${PREFIX}bcrypt_wait_seconds`,
      help: "How long password jobs waited for a worker.",
      labelNames: ["op"],
      buckets: BUCKETS,
      registers,
    }),
    observe,
  };
}

/** The route pattern that answered, or `unmatched` (labels stay few whatever clients send). */
export function routeOf(c: Parameters<MiddlewareHandler>[0]): string {
  const route = routePath(c, -1);
  return c.res.status === 404 && route === "/*" ? "unmatched" : route;
}
