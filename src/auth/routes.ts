/** Routes of API.md's "Accounts and sessions": /auth/* and /me. */
import { Hono } from "hono";
import type { Sql } from "postgres";
import type { AppEnv } from "../http/env.ts";
import { clientAddress } from "../http/middleware.ts";
import { jsonBody } from "../http/validation.ts";
import type { Leaderboard } from "../leaderboard/leaderboard.ts";
import type { Period } from "../leaderboard/periods.ts";
import { totalsOf } from "../leaderboard/queries.ts";
import { requireAccount } from "./middleware.ts";
import { loginBody, refreshBody, registerBody } from "./schemas.ts";
import { type Sessions, toAccount } from "./sessions.ts";
import type { AccessTokens } from "./tokens.ts";

/** POST /auth/register, /auth/login, /auth/refresh, /auth/logout. */
export function authRoutes(deps: { sessions: Sessions; trustedProxyHops: number }) {
  const { sessions } = deps;
  return new Hono<AppEnv>()
    .post("/register", jsonBody(registerBody), async (c) => {
      return c.json(await sessions.register(c.req.valid("json")), 201);
    })
    .post("/login", jsonBody(loginBody), async (c) => {
      const address = clientAddress(c, deps.trustedProxyHops);
      return c.json(await sessions.login(c.req.valid("json"), address));
    })
    .post("/refresh", jsonBody(refreshBody), async (c) => {
      return c.json(await sessions.refresh(c.req.valid("json").refreshToken));
    })
    .post("/logout", jsonBody(refreshBody), async (c) => {
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
  return new Hono<AppEnv>()
    .get("/", auth, async (c) => {
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
      });
    })
    .delete("/", auth, async (c) => {
      await sessions.deleteAccount(c.get("accountId"));
      return c.body(null, 204);
    });
}
