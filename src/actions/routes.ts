/** Routes of API.md's "Actions": the catalogue, completing, one's own log, and /admin. */
import { Hono } from "hono";
import type { Sql } from "postgres";
import { requireAccount, requireToken } from "../auth/middleware.ts";
import type { AccessTokens } from "../auth/tokens.ts";
import { uniqueViolation } from "../db/mod.ts";
import type { AppEnv } from "../http/env.ts";
import type { Audit } from "../ops/audit.ts";
import { Problem, validationProblem } from "../http/problem.ts";
import { fieldErrors, jsonBody, queryParams } from "../http/validation.ts";
import type { Completions } from "./completions.ts";
import * as q from "./queries.ts";
import {
  completionsQuery,
  createActionBody,
  idempotencyKey,
  SLUG,
  updateActionBody,
} from "./schemas.ts";

/** API.md's `Action`. */
export function toAction(row: q.ActionRow) {
  return {
    slug: row.slug,
    label: row.label,
    pointValue: row.point_value,
    createdAt: row.created_at.toISOString(),
    retiredAt: row.retired_at?.toISOString() ?? null,
  };
}

function unknownAction(slug: string): Problem {
  return new Problem(404, { kind: "unknown-action", detail: `No action "${slug}".` });
}

/** The slug of the path; one that cannot exist is simply not found. */
function slugParam(slug: string): string {
  if (slug.length > 100 || !SLUG.test(slug)) throw unknownAction(slug);
  return slug;
}

/** GET /actions, POST /actions/{slug}/complete. */
export function actionRoutes(deps: { sql: Sql; tokens: AccessTokens; completions: Completions }) {
  const { sql, completions } = deps;
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      const rows = await q.listActions(sql, false);
      return c.json({ actions: rows.map(toAction) });
    })
    .post("/:slug/complete", requireToken(deps.tokens), async (c) => {
      const slug = slugParam(c.req.param("slug"));
      const header = c.req.header("idempotency-key");
      let key: string | null = null;
      if (header !== undefined) {
        const parsed = idempotencyKey.safeParse(header);
        if (!parsed.success) {
          throw validationProblem(
            fieldErrors(parsed.error.issues).map((e) => ({ ...e, path: "Idempotency-Key" })),
          );
        }
        key = parsed.data;
      }
      const result = await completions.complete(
        c.get("accountId"),
        slug,
        key,
        c.get("sessionId"),
      );
      return c.json(result.body, result.status);
    });
}

/** GET /me/completions. */
export function myCompletionRoutes(
  deps: { sql: Sql; tokens: AccessTokens; completions: Completions },
) {
  return new Hono<AppEnv>()
    .get("/", requireAccount(deps.tokens, deps.sql), queryParams(completionsQuery), async (c) => {
      const { limit, before } = c.req.valid("query");
      return c.json(await deps.completions.list(c.get("accountId"), limit, before ?? null));
    });
}

/** GET, POST /admin/actions; PATCH, DELETE /admin/actions/{slug} (behind `requireOperator`). */
export function adminActionRoutes(deps: { sql: Sql; audit: Audit }) {
  const { sql, audit } = deps;
  return new Hono<AppEnv>()
    .get("/", async (c) => {
      const rows = await q.listActions(sql, true);
      return c.json({ actions: rows.map(toAction) });
    })
    .post("/", jsonBody(createActionBody), async (c) => {
      const body = c.req.valid("json");
      try {
        const row = await q.insertAction(sql, body);
        audit("action.created", { slug: row.slug, label: row.label, pointValue: row.point_value });
        c.header("location", `/admin/actions/${row.slug}`);
        return c.json(toAction(row), 201);
      } catch (error) {
        if (uniqueViolation(error) === null) throw error;
        throw new Problem(409, {
          kind: "slug-taken",
          detail: `There is already an action "${body.slug}" (retired ones keep their slug).`,
        });
      }
    })
    .patch("/:slug", jsonBody(updateActionBody), async (c) => {
      const slug = slugParam(c.req.param("slug"));
      const change = c.req.valid("json");
      const row = await q.updateAction(sql, slug, change);
      if (!row) throw unknownAction(slug);
      audit("action.changed", {
        slug,
        label: change.label ?? null,
        pointValue: change.pointValue ?? null,
      });
      return c.json(toAction(row));
    })
    .delete("/:slug", async (c) => {
      const slug = slugParam(c.req.param("slug"));
      const row = await q.retireAction(sql, slug);
      if (!row) throw unknownAction(slug);
      audit("action.retired", { slug, retiredAt: row.retired_at!.toISOString() });
      return c.body(null, 204);
    });
}
