/** Routes of API.md's "Actions": the catalogue, completing, one's own log, and /admin. */
import { createMiddleware } from "hono/factory";
import type { Sql } from "postgres";
import { requireAccount, requireToken } from "../auth/middleware.ts";
import type { AccessTokens } from "../auth/tokens.ts";
import { uniqueViolation } from "../db/mod.ts";
import type { AppEnv } from "../http/env.ts";
import { openApiRouter } from "../http/openapi.ts";
import type { Audit } from "../ops/audit.ts";
import { Problem } from "../http/problem.ts";
import {
  adminListRoute,
  completeRoute,
  createActionRoute,
  listActionsRoute,
  myActionsRoute,
  myCompletionsRoute,
  retireActionRoute,
  updateActionRoute,
} from "./api.ts";
import type { Completions } from "./completions.ts";
import { recordAudit } from "../moderation/queries.ts";
import * as q from "./queries.ts";
import { SLUG } from "./schemas.ts";

/** API.md's `Action`. */
export function toAction(row: q.ActionRow) {
  const { limit, cooldownSeconds } = q.rulesOf(row);
  return {
    slug: row.slug,
    label: row.label,
    pointValue: row.point_value,
    limit,
    cooldownSeconds,
    createdAt: row.created_at.toISOString(),
    retiredAt: row.retired_at?.toISOString() ?? null,
  };
}

function unknownAction(slug: string): Problem {
  return new Problem(404, { kind: "unknown-action", detail: `No action "${slug}".` });
}

/**
 * The path's slug must be one that can exist, before anything else of the request is checked: one
 * that cannot is simply not found (404), whatever the body or headers.
 */
const possibleSlug = createMiddleware<AppEnv>(async function possibleSlug(c, next) {
  const slug = c.req.param("slug") ?? "";
  if (slug.length > 100 || !SLUG.test(slug)) throw unknownAction(slug);
  await next();
});

/** GET /actions, POST /actions/{slug}/complete. */
export function actionRoutes(deps: { sql: Sql; tokens: AccessTokens; completions: Completions }) {
  const { sql, completions } = deps;
  return openApiRouter()
    .openapi(listActionsRoute, async (c) => {
      const rows = await q.listActions(sql, false);
      return c.json({ actions: rows.map(toAction) }, 200);
    })
    .openapi(
      { ...completeRoute, middleware: [requireToken(deps.tokens), possibleSlug] },
      async (c) => {
        const key = c.req.valid("header")["idempotency-key"] ?? null;
        const result = await completions.complete(
          c.get("accountId"),
          c.req.valid("param").slug,
          key,
          c.get("sessionId"),
          c.get("deadlineAt"),
        );
        return c.json(result.body, result.status);
      },
    );
}

/** GET /me/completions. */
export function myCompletionRoutes(
  deps: { sql: Sql; tokens: AccessTokens; completions: Completions },
) {
  const auth = requireAccount(deps.tokens, deps.sql);
  return openApiRouter()
    .openapi({ ...myCompletionsRoute, middleware: [auth] }, async (c) => {
      const { limit, before } = c.req.valid("query");
      return c.json(await deps.completions.list(c.get("accountId"), limit, before ?? null), 200);
    });
}

/** GET /me/actions. */
export function myActionRoutes(deps: { sql: Sql; tokens: AccessTokens; completions: Completions }) {
  const auth = requireAccount(deps.tokens, deps.sql);
  return openApiRouter()
    .openapi({ ...myActionsRoute, middleware: [auth] }, async (c) => {
      const rows = await deps.completions.standings(c.get("accountId"));
      return c.json({
        actions: rows.map(({ row, standing }) => ({
          ...toAction(row),
          remaining: standing.remaining,
          availableAt: standing.availableAt?.toISOString() ?? null,
        })),
      }, 200);
    });
}

/**
 * GET, POST /admin/actions; PATCH, DELETE /admin/actions/{slug} (behind `requireOperator`). Each
 * change and its entry in the audit trail are one transaction.
 */
export function adminActionRoutes(deps: { sql: Sql; audit: Audit }) {
  const { sql, audit } = deps;
  return openApiRouter()
    .openapi(adminListRoute, async (c) => {
      const rows = await q.listActions(sql, true);
      return c.json({ actions: rows.map(toAction) }, 200);
    })
    .openapi(createActionRoute, async (c) => {
      const body = c.req.valid("json");
      try {
        const action = await sql.begin(async (tx) => {
          const action = toAction(await q.insertAction(tx, body));
          const { slug, createdAt: _, retiredAt: __, ...created } = action;
          await recordAudit(tx, {
            action: "action.created",
            target: `action:${slug}`,
            detail: created,
          }, c.get("operator"));
          return action;
        });
        const { slug, ...created } = action;
        audit("action.created", { slug, ...created });
        c.header("location", `/admin/actions/${slug}`);
        return c.json(action, 201);
      } catch (error) {
        if (uniqueViolation(error) === null) throw error;
        throw new Problem(409, {
          kind: "slug-taken",
          detail: `There is already an action "${body.slug}" (retired ones keep their slug).`,
        });
      }
    })
    .openapi({ ...updateActionRoute, middleware: [possibleSlug] }, async (c) => {
      const { slug } = c.req.valid("param");
      const change = c.req.valid("json");
      const row = await sql.begin(async (tx) => {
        const row = await q.updateAction(tx, slug, change);
        if (row) {
          await recordAudit(tx, {
            action: "action.updated",
            target: `action:${slug}`,
            detail: change,
          }, c.get("operator"));
        }
        return row;
      });
      if (!row) throw unknownAction(slug);
      audit("action.updated", { slug, ...change });
      return c.json(toAction(row), 200);
    })
    .openapi({ ...retireActionRoute, middleware: [possibleSlug] }, async (c) => {
      const { slug } = c.req.valid("param");
      const row = await sql.begin(async (tx) => {
        const row = await q.retireAction(tx, slug);
        if (row?.newly) {
          await recordAudit(tx, {
            action: "action.retired",
            target: `action:${slug}`,
            detail: { retiredAt: row.retired_at!.toISOString() },
          }, c.get("operator"));
        }
        return row;
      });
      if (!row) throw unknownAction(slug);
      if (row.newly) audit("action.retired", { slug, retiredAt: row.retired_at!.toISOString() });
      return c.body(null, 204);
    });
}
