/** GET /healthz, /readyz and /metrics. */
import { Hono } from "hono";
import type { Redis } from "ioredis";
import type { Sql } from "postgres";
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

/** Liveness, readiness (PostgreSQL and Redis answer) and Prometheus metrics. */
export function opsRoutes(deps: { sql: Sql; redis: Redis; metrics: Metrics }) {
  const { sql, redis, metrics } = deps;
  return new Hono<AppEnv>()
    .get("/healthz", (c) => c.json({ status: "ok" }))
    .get("/readyz", async (c) => {
      const [postgres, redisUp] = await Promise.all([
        answers(() => sql`SELECT 1`),
        answers(() => redis.ping()),
      ]);
      const down = [...(postgres ? [] : ["PostgreSQL"]), ...(redisUp ? [] : ["Redis"])];
      if (down.length > 0) {
        throw new Problem(503, {
          kind: "not-ready",
          detail: `${down.join(" and ")} ${down.length > 1 ? "do" : "does"} not answer.`,
        });
      }
      return c.json({ status: "ok", postgres: "ok", redis: "ok" });
    })
    .get("/metrics", async (c) => {
      return c.body(await metrics.registry.metrics(), 200, {
        "content-type": metrics.registry.contentType,
      });
    });
}
