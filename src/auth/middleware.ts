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

async function verifiedSubject(tokens: AccessTokens, header: string | undefined) {
  const subject = await tokens.verify(bearerToken(header));
  if (subject === null) throw unauthorized("The access token is not valid.", true);
  return subject;
}

/**
 * Verifies the access token and sets `accountId` and `sessionId`. It does not look the account
 * or the session up: a route that uses this alone must refuse deleted accounts and ended sessions
 * itself (the completion statement does).
 */
export function requireToken(tokens: AccessTokens) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const { accountId, sessionId } = await verifiedSubject(tokens, c.req.header("authorization"));
    c.set("accountId", accountId);
    c.set("sessionId", sessionId);
    await next();
  });
}

/**
 * Verifies the access token, and in one query that its account is active and its session (if it
 * names one) has not ended; sets `accountId`, `sessionId` and `account`.
 */
export function requireAccount(tokens: AccessTokens, sql: Sql) {
  return createMiddleware<AppEnv>(async function authenticateAccount(c, next) {
    const { accountId, sessionId } = await verifiedSubject(tokens, c.req.header("authorization"));
    const account = await findActiveAccount(sql, accountId, sessionId);
    if (!account) {
      throw unauthorized("The access token's account or session no longer exists.", true);
    }
    c.set("accountId", accountId);
    c.set("sessionId", sessionId);
    c.set("account", account);
    await next();
  });
}
