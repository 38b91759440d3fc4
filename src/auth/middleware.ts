/** Bearer authentication of accounts' access tokens. */
import { createMiddleware } from "hono/factory";
import type { Sql } from "postgres";
import type { AppEnv } from "../http/env.ts";
import { unauthorized } from "../http/problem.ts";
import { findActiveAccount } from "./queries.ts";
import type { AccessTokens } from "./tokens.ts";

const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;

/** The token of an `Authorization: Bearer …` header; throws the 401 when there is none. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined) throw unauthorized("This route needs an access token.", false);
  const match = BEARER.exec(header);
  if (!match) throw unauthorized("The Authorization header is not a Bearer token.", true);
  return match[1];
}

async function verifiedAccountId(tokens: AccessTokens, header: string | undefined) {
  const accountId = await tokens.verify(bearerToken(header));
  if (accountId === null) throw unauthorized("The access token is not valid.", true);
  return accountId;
}

/**
 * Verifies the access token and sets `accountId`. It does not look the account up: a route that
 * uses this alone must refuse deleted accounts itself (the completion transaction does).
 */
export function requireToken(tokens: AccessTokens) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    c.set("accountId", await verifiedAccountId(tokens, c.req.header("authorization")));
    await next();
  });
}

/** Verifies the access token and that its account is active; sets `accountId` and `account`. */
export function requireAccount(tokens: AccessTokens, sql: Sql) {
  return createMiddleware<AppEnv>(async function authenticateAccount(c, next) {
    const accountId = await verifiedAccountId(tokens, c.req.header("authorization"));
    const account = await findActiveAccount(sql, accountId);
    if (!account) throw unauthorized("The access token's account no longer exists.", true);
    c.set("accountId", accountId);
    c.set("account", account);
    await next();
  });
}
