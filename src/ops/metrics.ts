/** Prometheus metrics of one instance (prom-client, on a registry of its own). */
import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import client from "prom-client";

/** The instance's metrics. */
export interface Metrics {
  readonly registry: client.Registry;
  readonly openStreams: client.Gauge;
  readonly broadcasts: client.Counter;
  readonly scoreUpdates: client.Counter;
  readonly redisErrors: client.Counter;
  readonly bcryptJobs: client.Counter<"op">;
  /** Counts and times every request by route pattern and status. */
  middleware(): MiddlewareHandler;
}

/** Creates the metrics; `collect` runs before each scrape to sample gauges. */
export function createMetrics(): Metrics {
  const registry = new client.Registry();
  const requests = new client.Counter({
    name: "scoreboard_http_requests_total",
    help: "HTTP requests by route pattern, method and status.",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const duration = new client.Histogram({
    name: "scoreboard_http_request_duration_seconds",
    help: "Time to the response's headers, by route pattern.",
    labelNames: ["route", "method"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const openStreams = new client.Gauge({
    name: "scoreboard_sse_open_streams",
    help: "Leaderboard streams open on this instance.",
    registers: [registry],
  });
  const broadcasts = new client.Counter({
    name: "scoreboard_sse_broadcasts_total",
    help: "Top-10 events sent to this instance's streams (each once, to all of them).",
    registers: [registry],
  });
  const scoreUpdates = new client.Counter({
    name: "scoreboard_score_updates_total",
    help: "Totals written to the Redis ranking after a completion.",
    registers: [registry],
  });
  const redisErrors = new client.Counter({
    name: "scoreboard_redis_errors_total",
    help: "Redis commands that failed (PostgreSQL answered, or a repair was scheduled).",
    registers: [registry],
  });

  const bcryptJobs = new client.Counter({
    name: "scoreboard_bcrypt_jobs_total",
    help: "Password hashes and verifications run by the bcrypt workers.",
    labelNames: ["op"],
    registers: [registry],
  });

  return {
    registry,
    bcryptJobs,
    openStreams,
    broadcasts,
    scoreUpdates,
    redisErrors,
    middleware() {
      return async function measure(c, next) {
        const started = performance.now();
        await next();
        const route = c.res.status === 404 && routePath(c, -1) === "/*"
          ? "unmatched"
          : routePath(c, -1);
        const method = c.req.method;
        requests.inc({ route, method, status: String(c.res.status) });
        duration.observe({ route, method }, (performance.now() - started) / 1000);
      };
    },
  };
}
