/** Accounts and sessions: registration, sign-in, refresh-token rotation, sign-out, deletion. */
import type { Sql } from "postgres";
import { type Db, uniqueViolation } from "../db/mod.ts";

import { Problem } from "../http/problem.ts";
import type { Leaderboard } from "../leaderboard/leaderboard.ts";
import type { LoginLimiter } from "./login_limiter.ts";
import type { PasswordHasher } from "./password_hasher.ts";
import * as q from "./queries.ts";
import { type AccessTokens, hashRefreshToken, newRefreshToken } from "./tokens.ts";

/** An account as the API shows it. */
export interface Account {
  id: number;
  username: string;
  email: string;
  createdAt: string;
}

/** API.md's `Session`. */
export interface Session {
  account: Account;
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
}

/** What the session service needs. */
export interface SessionDeps {
  sql: Sql;
  hasher: PasswordHasher;
  tokens: AccessTokens;
  limiter: LoginLimiter;
  leaderboard: Leaderboard;
  refreshTokenTtl: number;
}

/** The account's public fields. */
export function toAccount(row: q.AccountRow): Account {
  return {
    id: row.id,
    username: row.username,
    email: row.email,
    createdAt: row.created_at.toISOString(),
  };
}

const invalidCredentials = () =>
  new Problem(401, {
    kind: "invalid-credentials",
    detail: "The email or password is not right.",
  });

const invalidRefreshToken = () =>
  new Problem(401, {
    kind: "invalid-refresh-token",
    detail: "The refresh token is not valid; sign in again.",
  });

/** Builds the service. */
export function createSessions(deps: SessionDeps) {
  const { sql, hasher, tokens, limiter, leaderboard } = deps;

  async function issue(db: Db, account: q.AccountRow): Promise<Session> {
    const refresh = newRefreshToken();
    await q.insertRefreshToken(db, {
      accountId: account.id,
      hash: refresh.hash,
      ttlSeconds: deps.refreshTokenTtl,
    });
    return {
      account: toAccount(account),
      accessToken: await tokens.sign(account.id),
      refreshToken: refresh.token,
      tokenType: "Bearer",
      expiresIn: tokens.ttl,
    };
  }

  return {
    async register(input: { username: string; email: string; password: string }) {
      const passwordHash = await hasher.hash(input.password);
      try {
        return await sql.begin(async (tx) => {
          const account = await q.insertAccount(tx, { ...input, passwordHash });
          return await issue(tx, account);
        });
      } catch (error) {
        const constraint = uniqueViolation(error);
        if (constraint === null) throw error;
        const field = constraint.includes("email") ? "email" : "username";
        throw new Problem(409, {
          kind: `${field}-taken`,
          detail: `That ${field} is already taken.`,
        });
      }
    },

    async login(input: { email: string; password: string }, address: string) {
      let account: Awaited<ReturnType<typeof q.findAccountByEmail>>;
      const ok = await limiter.guard(input.email, address, async () => {
        account = await q.findAccountByEmail(sql, input.email);
        // Unknown emails are verified against a dummy hash: every miss costs one bcrypt verify.
        const matches = await hasher.verify(input.password, account?.password_hash ?? null);
        return matches && account !== undefined && account.deleted_at === null;
      });
      if (!ok || !account) throw invalidCredentials();
      return await issue(sql, account);
    },

    /**
     * Rotates a refresh token. A token that was already rotated or signed out is taken as stolen:
     * every refresh token of its account is revoked (and the revocation is committed).
     */
    async refresh(token: string) {
      const hash = hashRefreshToken(token);
      const outcome = await sql.begin(async (tx) => {
        const stored = await q.lockRefreshToken(tx, hash);
        if (!stored || stored.account_deleted) return "invalid" as const;
        if (stored.revoked) {
          await q.revokeAllRefreshTokens(tx, stored.account_id);
          return "reused" as const;
        }
        if (stored.expired) return "invalid" as const;
        await q.revokeRefreshToken(tx, stored.id);
        return await issue(tx, stored.account);
      });
      if (typeof outcome === "string") throw invalidRefreshToken();
      return outcome;
    },

    /** Revokes the token if it is live. Idempotent: unknown and spent tokens are no error. */
    async logout(token: string) {
      await q.revokeRefreshTokenByHash(sql, hashRefreshToken(token));
    },

    /** Soft-deletes the account, revokes its refresh tokens and takes it off the leaderboard. */
    async deleteAccount(accountId: number) {
      await sql.begin(async (tx) => {
        await q.softDeleteAccount(tx, accountId);
        await q.revokeAllRefreshTokens(tx, accountId);
      });
      await leaderboard.remove(accountId);
    },
  };
}

/** The session service. */
export type Sessions = ReturnType<typeof createSessions>;
