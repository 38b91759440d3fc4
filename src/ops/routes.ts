/** GET /healthz, /readyz and /metrics. */
import type { Redis } from "ioredis";
import type { Sql } from "postgres";
import { succeedsWithin } from "../db/database.ts";
import type { SchemaState } from "../db/startup.ts";
import { openApiRouter } from "../http/openapi.ts";
import { Problem } from "../http/problem.ts";
import { healthRoute, metricsRoute, type Readiness, readyRoute } from "./api.ts";
import type { Metrics } from "./metrics.ts";
import { bearerCheck } from "../auth/bearer.ts";
import { probeRedis } from "../redis/refusals.ts";

const CHECK_TIMEOUT_MS = 1000;

const answers = (check: () => Promise<unknown>) => succeedsWithin(CHECK_TIMEOUT_MS, check);

/**
 * Liveness, readiness and Prometheus metrics. Ready means PostgreSQL answers: without Redis an
 * instance still serves everything from PostgreSQL, so a Redis outage must not take every
 * instance out of its load balancer; the body says how Redis is.
 */
export function opsRoutes(
  deps: {
    sql: Sql;
    redis: Redis | null;
    config: { redisKeyPrefix: string };
    metrics: Metrics;
    schema: SchemaState;
    lifecycle: { draining: boolean };
    /** METRICS_TOKEN: /metrics asks for it when set. */
    metricsToken: string | null;
  },
) {
  const { sql, redis, metrics, schema } = deps;
  const carries = deps.metricsToken === null ? null : bearerCheck(deps.metricsToken);
  return openApiRouter()
    .openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200))
    .openapi(readyRoute, async (c) => {
      const [postgres, probed] = await Promise.all([
        answers(() => sql`SELECT 1`),
        redis === null ? null : probeRedis(redis, deps.config.redisKeyPrefix, CHECK_TIMEOUT_MS),
      ]);
      const redisState: Readiness["redis"] = probed === null ? "none" : probed.state;
      if (probed?.state === "refusing") metrics.redisRefusals.inc({ reply: probed.reply });
      if (deps.lifecycle.draining) {
        // Load balancers take it out first; it goes on serving what they still send meanwhile.
        throw new Problem(503, {
          kind: "shutting-down",
          detail: "The instance is stopping: it serves what it is sent until it stops accepting.",
          headers: { "retry-after": "2" },
        });
      }
      if (!postgres || !schema.ready) {
        throw new Problem(503, {
          kind: "not-ready",
          detail: postgres
            ? `The migrations have not run yet (Redis: ${redisState}).`
            : `PostgreSQL does not answer (Redis: ${redisState}).`,
          headers: { "retry-after": "2" },
        });
      }
      const body: Readiness = {
        status: redisState === "down" || redisState === "refusing" ? "degraded" : "ok",
        postgres: "ok",
        redis: redisState,
        ...(redis === null
          ? {
            mode: "single-instance",
            detail: "One instance on its own: it cannot scale out (set REDIS_URL to run several).",
          }
          : probed?.state === "refusing"
          ? {
            mode: "scale-out",
            detail: `Redis answers but refuses the service's commands (${probed.reply}): ` +
              "a replica, a cluster node or a server that does not fit; serving from PostgreSQL.",
          }
          : { mode: "scale-out" }),
      };
      return c.json(body, 200);
    })
    .openapi(metricsRoute, async (c) => {
      if (carries !== null && !carries(c.req.header("authorization"))) {
        throw new Problem(401, {
          kind: "unauthorized",
          detail: "The metrics need Authorization: Bearer <METRICS_TOKEN>.",
          headers: { "www-authenticate": 'Bearer realm="metrics"' },
        });
      }
      return c.text(await metrics.registry.metrics(), 200, {
        "content-type": metrics.registry.contentType,
      });
    });
}
