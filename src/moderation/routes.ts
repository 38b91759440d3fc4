/** Routes of API.md's "Moderation and audit" (behind `requireOperator`). */
import type { Clock } from "../leaderboard/periods.ts";
import { openApiRouter } from "../http/openapi.ts";
import { Problem, validationProblem } from "../http/problem.ts";
import {
  accountCompletionsRoute,
  accountRoute,
  accountsRoute,
  auditRoute,
  liftRoute,
  suspendRoute,
  voidRoute,
} from "./api.ts";
import type { Moderation } from "./service.ts";

function unknownAccount(id: number): Problem {
  return new Problem(404, { kind: "unknown-account", detail: `No account ${id}.` });
}

/** /admin/accounts… */
export function adminAccountRoutes(deps: { moderation: Moderation; clock: Clock }) {
  const { moderation } = deps;
  return openApiRouter()
    .openapi(accountsRoute, async (c) => {
      const { q, limit, before } = c.req.valid("query");
      return c.json(await moderation.search({ q: q ?? null, limit, before: before ?? null }), 200);
    })
    .openapi(accountRoute, async (c) => {
      const { id } = c.req.valid("param");
      const account = await moderation.account(id);
      if (!account) throw unknownAccount(id);
      return c.json(account, 200);
    })
    .openapi(accountCompletionsRoute, async (c) => {
      const { id } = c.req.valid("param");
      const { limit, before } = c.req.valid("query");
      const page = await moderation.completions(id, limit, before ?? null);
      if (!page) throw unknownAccount(id);
      return c.json(page, 200);
    })
    .openapi(suspendRoute, async (c) => {
      const { id } = c.req.valid("param");
      const { reason, until } = c.req.valid("json");
      const end = until === undefined ? null : new Date(until);
      if (end !== null && end.getTime() <= deps.clock.now()) {
        throw validationProblem([{ path: "until", message: "must be in the future" }]);
      }
      const account = await moderation.suspend(id, { reason, until: end }, c.get("operator"));
      if (!account) throw unknownAccount(id);
      return c.json(account, 200);
    })
    .openapi(liftRoute, async (c) => {
      const { id } = c.req.valid("param");
      const account = await moderation.lift(id, c.get("operator"));
      if (!account) throw unknownAccount(id);
      return c.json(account, 200);
    });
}

/** /admin/completions… */
export function adminCompletionRoutes(deps: { moderation: Moderation }) {
  return openApiRouter()
    .openapi(voidRoute, async (c) => {
      const { id } = c.req.valid("param");
      const result = await deps.moderation.void(id, c.req.valid("json").reason, c.get("operator"));
      if (result === null) {
        throw new Problem(404, { kind: "unknown-completion", detail: `No completion ${id}.` });
      }
      if (result === "voided") {
        throw new Problem(409, {
          kind: "already-voided",
          detail: `The completion ${id} is voided already.`,
        });
      }
      return c.json(result, 200);
    });
}

/** /admin/audit */
export function auditRoutes(deps: { moderation: Moderation }) {
  return openApiRouter()
    .openapi(auditRoute, async (c) => {
      const { limit, before, target } = c.req.valid("query");
      return c.json(
        await deps.moderation.trail({ limit, before: before ?? null, target: target ?? null }),
        200,
      );
    });
}
