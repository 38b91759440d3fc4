/** Routes of API.md's "Accounts and sessions": /auth/*, /me, /me/password and /me/sessions. */
import type { Sql } from "postgres";
import { clientAddress } from "../http/middleware.ts";
import { openApiRouter } from "../http/openapi.ts";
import type { Leaderboard } from "../leaderboard/leaderboard.ts";
import type { Period } from "../leaderboard/periods.ts";
import { totalsOf } from "../leaderboard/queries.ts";
import {
  deleteMeRoute,
  endAllSessionsRoute,
  endSessionRoute,
  loginRoute,
  logoutRoute,
  meRoute,
  passwordRoute,
  refreshRoute,
  registerRoute,
  sessionsRoute,
} from "./api.ts";
import { requireAccount } from "./middleware.ts";
import { type Sessions, toAccount } from "./sessions.ts";
import type { AccessTokens } from "./tokens.ts";

/** POST /auth/register, /auth/login, /auth/refresh, /auth/logout. */
export function authRoutes(deps: { sessions: Sessions; trustedProxyHops: number }) {
  const { sessions } = deps;
  return openApiRouter()
    .openapi(registerRoute, async (c) => {
      const address = clientAddress(c, deps.trustedProxyHops);
      return c.json(await sessions.register(c.req.valid("json"), address), 201);
    })
    .openapi(loginRoute, async (c) => {
      const address = clientAddress(c, deps.trustedProxyHops);
      return c.json(await sessions.login(c.req.valid("json"), address), 200);
    })
    .openapi(refreshRoute, async (c) => {
      return c.json(await sessions.refresh(c.req.valid("json").refreshToken), 200);
    })
    .openapi(logoutRoute, async (c) => {
      await sessions.logout(c.req.valid("json").refreshToken);
      return c.body(null, 204);
    });
}

/** GET /me and DELETE /me. */
export function meRoutes(
  deps: { sessions: Sessions; tokens: AccessTokens; sql: Sql; leaderboard: Leaderboard },
) {
  const { sessions, sql, leaderboard } = deps;
  const auth = requireAccount(deps.tokens, sql);
  return openApiRouter()
    .openapi({ ...meRoute, middleware: [auth] }, async (c) => {
      const account = c.get("account");
      const totals = await totalsOf(sql, account.id, leaderboard.windows());
      const ranks = await leaderboard.ranks(account.id, totals);
      const standing = (period: Period) => ({
        totalPoints: totals[period] ?? 0,
        rank: ranks[period],
      });
      return c.json({
        ...toAccount(account),
        ...standing("all"),
        periods: { day: standing("day"), week: standing("week"), month: standing("month") },
      }, 200);
    })
    .openapi({ ...deleteMeRoute, middleware: [auth] }, async (c) => {
      await sessions.deleteAccount(c.get("accountId"));
      return c.body(null, 204);
    });
}

/** PUT /me/password. */
export function passwordRoutes(
  deps: { sessions: Sessions; tokens: AccessTokens; sql: Sql; trustedProxyHops: number },
) {
  const auth = requireAccount(deps.tokens, deps.sql);
  return openApiRouter()
    .openapi({ ...passwordRoute, middleware: [auth] }, async (c) => {
      const caller = {
        accountId: c.get("accountId"),
        sessionId: c.get("sessionId"),
        email: c.get("account").email,
      };
      const address = clientAddress(c, deps.trustedProxyHops);
      await deps.sessions.changePassword(caller, c.req.valid("json"), address);
      return c.body(null, 204);
    });
}

/** GET /me/sessions, DELETE /me/sessions/{id}, DELETE /me/sessions. */
export function mySessionRoutes(deps: { sessions: Sessions; tokens: AccessTokens; sql: Sql }) {
  const { sessions } = deps;
  const auth = requireAccount(deps.tokens, deps.sql);
  return openApiRouter()
    .openapi({ ...sessionsRoute, middleware: [auth] }, async (c) => {
      const list = await sessions.list(c.get("accountId"), c.get("sessionId"));
      return c.json({ sessions: list }, 200);
    })
    .openapi({ ...endSessionRoute, middleware: [auth] }, async (c) => {
      await sessions.end(c.get("accountId"), c.req.valid("param").id);
      return c.body(null, 204);
    })
    .openapi({ ...endAllSessionsRoute, middleware: [auth] }, async (c) => {
      await sessions.endAll(c.get("accountId"));
      return c.body(null, 204);
    });
}
