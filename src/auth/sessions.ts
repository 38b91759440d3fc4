/**
 * Accounts and sessions: registration, sign-in, refresh-token rotation with its reuse grace,
 * sign-out, the list of one's sessions and their ending, password changes, deletion.
 */
import type { Sql } from "postgres";
import { type Db, uniqueViolation } from "../db/mod.ts";

import { Problem, unauthorized } from "../http/problem.ts";
import type { Leaderboard } from "../leaderboard/leaderboard.ts";
import type { Clock } from "../leaderboard/periods.ts";
import type { Audit } from "../ops/audit.ts";
import type { LoginLimiter } from "./login_limiter.ts";
import type { PasswordHasher } from "./password_hasher.ts";
import type { RequestLimits } from "./request_limits.ts";
import * as q from "./queries.ts";
import { usernameKey as keyOf } from "./usernames.ts";
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

/** API.md's `SessionInfo`. */
export interface SessionInfo {
  id: number;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

/** What the session service needs. */
export interface SessionDeps {
  sql: Sql;
  hasher: PasswordHasher;
  tokens: AccessTokens;
  limiter: LoginLimiter;
  limits: RequestLimits;
  leaderboard: Leaderboard;
  refreshTokenTtl: number;
  /** Seconds during which a rotated refresh token still gets a new pair; 0: never. */
  refreshTokenReuseInterval: number;
  audit: Audit;
  clock: Clock;
  /** Reinstates the account if its suspension has ended (src/moderation/). */
  reinstateDue(accountId: number): Promise<void>;
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

/** Thrown inside a transaction to roll it back and answer 401. */
class InvalidRefreshToken extends Error {}

/** Builds the service. */
export function createSessions(deps: SessionDeps) {
  const { sql, hasher, tokens, limiter, leaderboard, audit } = deps;
  const ttlSeconds = deps.refreshTokenTtl;

  async function pair(account: q.AccountRow, sessionId: number, refreshToken: string) {
    return {
      account: toAccount(account),
      accessToken: await tokens.sign(account.id, sessionId),
      refreshToken,
      tokenType: "Bearer" as const,
      expiresIn: tokens.ttl,
    };
  }

  /** A new session (register, login) and its first pair. */
  async function start(db: Db, account: q.AccountRow): Promise<Session> {
    const refresh = newRefreshToken();
    const sessionId = await q.insertSession(db, {
      accountId: account.id,
      hash: refresh.hash,
      ttlSeconds,
    });
    return await pair(account, sessionId, refresh.token);
  }

  /** A new pair in a session the caller holds locked. */
  async function resume(db: Db, account: q.AccountRow, sessionId: number): Promise<Session> {
    const refresh = newRefreshToken();
    if (!(await q.continueSession(db, { sessionId, hash: refresh.hash, ttlSeconds }))) {
      throw new InvalidRefreshToken();
    }
    return await pair(account, sessionId, refresh.token);
  }

  return {
    /** A new account and its first session; `address` is the client's (limited before hashing). */
    async register(input: { username: string; email: string; password: string }, address: string) {
      await deps.limits.registration(address);
      const passwordHash = await hasher.hash(input.password);
      const usernameKey = keyOf(input.username);
      try {
        return await sql.begin(async (tx) => {
          const account = await q.insertAccount(tx, { ...input, usernameKey, passwordHash });
          return await start(tx, account);
        });
      } catch (error) {
        const constraint = uniqueViolation(error);
        if (constraint === null) throw error;
        if (constraint.includes("email")) {
          throw new Problem(409, { kind: "email-taken", detail: "That email is already taken." });
        }
        throw new Problem(409, {
          kind: "username-taken",
          detail: constraint === q.USERNAME_LOOK
            ? "That username looks like one already taken (their letters can be mistaken for " +
              "each other)."
            : "That username is already taken.",
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
      if (account.suspended_at !== null) {
        const until = account.suspension_until;
        if (until === null || until.getTime() > deps.clock.now()) {
          // The right password: the account may know why it cannot sign in (not the reason).
          throw new Problem(403, {
            kind: "account-suspended",
            detail: until === null
              ? "This account is suspended."
              : `This account is suspended until ${until.toISOString()}.`,
            members: { until: until?.toISOString() ?? null },
          });
        }
        // Its suspension has ended, and no instance has reinstated it yet: this one does.
        await deps.reinstateDue(account.id);
      }
      return await start(sql, account);
    },

    /**
     * Rotates a refresh token: a new pair in the same session. A token rotated less than the
     * reuse interval ago gets a new pair too, and nothing is revoked (a retried request, two tabs
     * refreshing at once). A token rotated longer ago, or signed out, is taken as stolen: every
     * session of its account ends. A token whose session was ended otherwise is a plain 401.
     */
    async refresh(token: string) {
      const hash = hashRefreshToken(token);
      let outcome: Session | { theft: number } | null;
      try {
        outcome = await sql.begin(async (tx) => {
          const sessionId = await q.lockSessionOf(tx, hash);
          if (sessionId === undefined) return null;
          // Spent: 429, and the transaction rolls back (nothing rotated).
          await deps.limits.refresh(sessionId);
          const stored = await q.findRefreshToken(tx, hash, deps.refreshTokenReuseInterval);
          if (!stored || stored.account_inactive) return null;
          switch (stored.revoked_reason) {
            case null:
              if (stored.expired || stored.session_ended) return null;
              await q.rotateRefreshToken(tx, stored.id);
              return await resume(tx, stored.account, stored.session_id);
            case "rotated":
              if (!stored.in_grace) return { theft: stored.account_id };
              if (stored.session_ended) return null;
              return await resume(tx, stored.account, stored.session_id);
            case "signed-out":
              return { theft: stored.account_id };
            case "session-ended":
              return null;
          }
        });
      } catch (error) {
        if (error instanceof InvalidRefreshToken) throw invalidRefreshToken();
        throw error;
      }
      if (outcome !== null && "theft" in outcome) {
        // After the transaction, which holds one session locked: ending every session locks
        // them all, and two such transactions could otherwise wait for each other.
        const ended = await q.endSessions(sql, { accountId: outcome.theft });
        audit("refresh-token.reused", { accountId: outcome.theft, sessionsEnded: ended.length });
      }
      if (outcome === null || "theft" in outcome) throw invalidRefreshToken();
      return outcome;
    },

    /**
     * Ends the session of the token (its other tokens too), whatever state the token is in.
     * Idempotent: unknown tokens and ended sessions are no error.
     */
    async logout(token: string) {
      const hash = hashRefreshToken(token);
      const found = await q.findRefreshTokenSession(sql, hash);
      if (!found) return;
      await q.endSessions(sql, { accountId: found.account_id, only: found.session_id }, hash);
    },

    /** The account's live sessions, newest first; `current` marks `currentId`. */
    async list(accountId: number, currentId: number | null): Promise<SessionInfo[]> {
      const rows = await q.liveSessions(sql, accountId);
      return rows.map((row) => ({
        id: row.id,
        createdAt: row.created_at.toISOString(),
        lastUsedAt: row.last_used_at.toISOString(),
        expiresAt: row.expires_at.toISOString(),
        current: row.id === currentId,
      }));
    },

    /** Ends one live session of the account; 404 when it has none with that id. */
    async end(accountId: number, sessionId: number) {
      const ended = await q.endSessions(sql, { accountId, only: sessionId });
      if (ended.length === 0) {
        throw new Problem(404, {
          kind: "unknown-session",
          detail: `You have no live session ${sessionId}.`,
        });
      }
    },

    /** Ends every session of the account (sign out everywhere). */
    async endAll(accountId: number) {
      const ended = await q.endSessions(sql, { accountId });
      audit("sessions.ended", { accountId, sessionsEnded: ended.length });
    },

    /**
     * Changes the password after checking the current one (a wrong one counts as a failed login
     * for the account's email and the client's address), and ends every other session.
     */
    async changePassword(
      caller: { accountId: number; sessionId: number | null; email: string },
      input: { currentPassword: string; newPassword: string },
      address: string,
    ) {
      const ok = await limiter.guard(caller.email, address, async () => {
        const stored = await q.findPasswordHash(sql, caller.accountId);
        const matches = await hasher.verify(input.currentPassword, stored ?? null);
        return matches && stored !== undefined;
      });
      if (!ok) {
        throw new Problem(401, {
          kind: "invalid-credentials",
          detail: "The current password is not right.",
        });
      }
      const passwordHash = await hasher.hash(input.newPassword);
      const ended = await sql.begin(async (tx) => {
        if (!(await q.updatePasswordHash(tx, caller.accountId, passwordHash))) {
          throw unauthorized("The access token's account no longer exists.", true);
        }
        return await q.endSessions(tx, { accountId: caller.accountId, except: caller.sessionId });
      });
      audit("password.changed", { accountId: caller.accountId, sessionsEnded: ended.length });
    },

    /** Soft-deletes the account, ends its sessions and takes it off the leaderboard. */
    async deleteAccount(accountId: number) {
      const deleted = await sql.begin(async (tx) => {
        const deleted = await q.softDeleteAccount(tx, accountId);
        await q.endSessions(tx, { accountId });
        await q.bumpRevision(tx, accountId);
        return deleted;
      });
      if (deleted) audit("account.deleted", { accountId });
      await leaderboard.sync([accountId]);
    },
  };
}

/** The session service. */
export type Sessions = ReturnType<typeof createSessions>;
