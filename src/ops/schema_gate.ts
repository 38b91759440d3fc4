/**
 * Until an instance that started without PostgreSQL has run its migrations, it serves only what
 * needs no schema of its (possibly newer) version: health, metrics, the page and the boards that
 * Redis holds. Everything else is a 503 that says so.
 */
import type { MiddlewareHandler } from "hono";
import type { SchemaState } from "../db/startup.ts";
import { Problem } from "../http/problem.ts";

const NEEDS_SCHEMA = /^\/(me|actions|admin|auth)(\/|$)/;

/** Refuses what needs the schema while `schema` is not ready. */
export function schemaGate(schema: SchemaState): MiddlewareHandler {
  return async function awaitSchema(c, next) {
    const reads = c.req.method === "GET" || c.req.method === "HEAD";
    if (schema.ready || (reads && !NEEDS_SCHEMA.test(c.req.path))) return await next();
    throw new Problem(503, {
      kind: "starting",
      detail: "This instance is waiting for PostgreSQL to check its schema; try again shortly.",
      headers: { "retry-after": "2" },
    });
  };
}
