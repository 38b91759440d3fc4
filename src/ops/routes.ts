/** GET /healthz, /readyz and /metrics. */
import { Hono } from "hono";
import type { Redis } from "ioredis";
import type { Sql } from "postgres";
import type { SchemaState } from "../db/startup.ts";
import type { AppEnv } from "../http/env.ts";
import { Problem } from "../http/problem.ts";
import type { Metrics } from "./metrics.ts";

const CHECK_TIMEOUT_MS = 1000;

async function answers(check: () => Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), CHECK_TIMEOUT_MS);
  });
  try {
    return await Promise.race([check().then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Liveness, readiness and Prometheus metrics. Ready means PostgreSQL answers: without Redis an
 * instance still serves everything from PostgreSQL, so a Redis outage must not take every
 * instance out of its load balancer; the body says how Redis is.
 */
export function opsRoutes(
  deps: { sql: Sql; redis: Redis | null; metrics: Metrics; schema: SchemaState },
) {
  const { sql, redis, metrics, schema } = deps;
  return new Hono<AppEnv>()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      const [postgres, redisUp] = await Promise.all([
        answers(() => sql`SELECT 1`),
        redis === null ? null : answers(() => redis.ping()),
      ]);
      const redisState = redisUp === null ? "none" : redisUp ? "ok" : "down";
      if (!postgres || !schema.ready) {
        throw new Problem(503, {
          kind: "not-ready",
          detail: postgres
            ? `The migrations have not run yet (Redis: ${redisState}).`
            : `PostgreSQL does not answer (Redis: ${redisState}).`,
          headers: { "retry-after": "2" },
        });
      }
      return c.json({
        status: redisUp === false ? "degraded" : "ok",
        postgres: "ok",
        redis: redisState,
        ...(redis === null
          ? {
            mode: "single-instance",
            detail: "One instance on its own: it cannot scale out (set REDIS_URL to run several).",
          }
          : { mode: "scale-out" }),
      });
    })
    .get("/metrics", async (c) => {
      return c.body(await metrics.registry.metrics(), 200, {
        "content-type": metrics.registry.contentType,
      });
    });
}
