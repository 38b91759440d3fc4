/**
 * SQL of accounts, sessions and refresh tokens. Each function takes the `sql` or transaction
 * handle first.
 */
import type { Fragment, TransactionSql } from "postgres";
import { arrayLiteral, type Db } from "../db/mod.ts";
import { shown } from "../leaderboard/queries.ts";

/** An account as the API shows it. */
export interface AccountRow {
  id: number;
  username: string;
  email: string;
  created_at: Date;
}

/** The unique index of usernames' keys: a name that looks like a taken one violates it. */
export const USERNAME_LOOK = "accounts_username_look";

/**
 * Inserts an account; unique violations surface as postgres errors (code 23505): on the email,
 * the username, or the username's key (the look it shares with another, src/auth/usernames.ts).
 */
export async function insertAccount(
  db: Db,
  account: { username: string; usernameKey: string; email: string; passwordHash: string },
): Promise<AccountRow> {
  const [row] = await db<AccountRow[]>`
    INSERT INTO accounts (username, username_key, email, password_hash)
    VALUES (${account.username}, ${account.usernameKey}, ${account.email},
      ${account.passwordHash})
    RETURNING id, username, email, created_at`;
  return row;
}

/** What login needs of an account: its hash, and whether it is deleted or suspended. */
export interface LoginRow extends AccountRow {
  password_hash: string;
  deleted_at: Date | null;
  suspended_at: Date | null;
  suspension_until: Date | null;
}

/** The account with this (lower-cased) email, deleted, suspended or not, with what login needs. */
export async function findAccountByEmail(db: Db, email: string): Promise<LoginRow | undefined> {
  // PostgreSQL text cannot hold NUL (it refuses the parameter): no account has such an email.
  if (email.includes("\0")) return undefined;
  const [row] = await db<LoginRow[]>`
    SELECT id, username, email, created_at, password_hash, deleted_at, suspended_at,
           suspension_until
    FROM accounts WHERE email = ${email}`;
  return row;
}

/**
 * The account if it is active and, when `sessionId` is given, that session of it is live — one
 * query, so that checking the session costs no round trip more than checking the account.
 */
export async function findActiveAccount(
  db: Db,
  id: number,
  sessionId: number | null,
): Promise<AccountRow | undefined> {
  const [row] = await db<AccountRow[]>`
    SELECT id, username, email, created_at
    FROM accounts a
    WHERE id = ${id} AND ${shown(db)}
      AND (${sessionId}::int IS NULL OR EXISTS (${liveSession(db, id, sessionId)}))`;
  return row;
}

/**
 * A subquery for `EXISTS (…)`: the session is the account's and live (not ended, not expired).
 * Kept in one place for every statement that checks an access token's session. The ids are values
 * or, for a statement over many rows, fragments naming its columns (`` db`i.account_id` ``).
 */
export function liveSession(
  db: Db,
  accountId: number | Fragment,
  sessionId: number | null | Fragment,
) {
  // OFFSET 0: over many rows, PostgreSQL would otherwise be free to read every live session into
  // a hash (its estimate of a batch is a hundred rows) rather than look up each row's by its key.
  return db`
    SELECT 1 FROM sessions
    WHERE id = ${sessionId}::int AND account_id = ${accountId}
      AND ended_at IS NULL AND expires_at > NOW()
    OFFSET 0`;
}

/** The password hash of an active account. */
export async function findPasswordHash(db: Db, id: number): Promise<string | undefined> {
  const [row] = await db<{ password_hash: string }[]>`
    SELECT password_hash FROM accounts a WHERE id = ${id} AND ${shown(db)}`;
  return row?.password_hash;
}

/** Sets an active account's password hash; false when it is not active. */
export async function updatePasswordHash(db: Db, id: number, hash: string): Promise<boolean> {
  const result = await db`
    UPDATE accounts a SET password_hash = ${hash} WHERE id = ${id} AND ${shown(db)}`;
  return result.count === 1;
}

/** Soft-deletes an account; false when it was deleted already. */
export async function softDeleteAccount(db: Db, id: number): Promise<boolean> {
  const result = await db`
    UPDATE accounts SET deleted_at = NOW() WHERE id = ${id} AND deleted_at IS NULL`;
  return result.count === 1;
}

/**
 * One more revision of the account's place on the boards (score_ledger.revision), for a change of
 * whether it is shown: the Redis copy then takes its new state over any older one that arrives
 * late. Nothing for an account without points.
 */
export async function bumpRevision(db: Db, id: number): Promise<void> {
  await db`UPDATE score_ledger SET revision = revision + 1 WHERE account_id = ${id}`;
}

/**
 * Starts a session with its first refresh token (stored as `hash`); both expire in `ttlSeconds`.
 * Returns the session's id.
 */
export async function insertSession(
  db: Db,
  session: { accountId: number; hash: string; ttlSeconds: number },
): Promise<number> {
  const [row] = await db<{ session_id: number }[]>`
    WITH session AS (
      INSERT INTO sessions (account_id, expires_at)
      VALUES (${session.accountId}, NOW() + make_interval(secs => ${session.ttlSeconds}))
      RETURNING id, account_id, expires_at
    )
    INSERT INTO refresh_tokens (account_id, session_id, token_hash, expires_at)
    SELECT account_id, id, ${session.hash}, expires_at FROM session
    RETURNING session_id`;
  return row.session_id;
}

/**
 * Adds a refresh token (stored as `hash`) to a session that has not ended, and marks the session
 * used now and expiring with that token. False when the session has ended: then nothing is
 * written, also when it ended a moment ago in a transaction that committed meanwhile.
 */
export async function continueSession(
  db: Db,
  session: { sessionId: number; hash: string; ttlSeconds: number },
): Promise<boolean> {
  const rows = await db`
    WITH session AS (
      UPDATE sessions
      SET last_used_at = GREATEST(last_used_at, NOW()),
          expires_at = NOW() + make_interval(secs => ${session.ttlSeconds})
      WHERE id = ${session.sessionId} AND ended_at IS NULL
      RETURNING id, account_id, expires_at
    )
    INSERT INTO refresh_tokens (account_id, session_id, token_hash, expires_at)
    SELECT account_id, id, ${session.hash}, expires_at FROM session
    RETURNING id`;
  return rows.length === 1;
}

/** Why a refresh token was revoked (see the sessions migration). */
export type RevokedReason = "rotated" | "signed-out" | "session-ended";

/**
 * Locks the session of the refresh token with this hash until the transaction ends, so that
 * refreshes in one session, and its ending, run one after the other. Every write to a session's
 * tokens happens under this lock, so the token is read after it (`findRefreshToken`), fresh.
 * Undefined when there is no such token.
 */
export async function lockSessionOf(tx: TransactionSql, hash: string): Promise<number | undefined> {
  const [row] = await tx<{ id: number }[]>`
    SELECT s.id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
    WHERE t.token_hash = ${hash}
    FOR UPDATE OF s`;
  return row?.id;
}

/** A stored refresh token and what a refresh must know of it. */
export interface RefreshTokenRow {
  id: number;
  account_id: number;
  session_id: number;
  /** Its account, as the new session shows it. */
  account: AccountRow;
  revoked_reason: RevokedReason | null;
  /** Rotated less than the reuse interval ago (always false when the interval is 0). */
  in_grace: boolean;
  expired: boolean;
  session_ended: boolean;
  /** Deleted or suspended. */
  account_inactive: boolean;
}

/** The refresh token with this hash, its account and the state of its session. */
export async function findRefreshToken(
  db: Db,
  hash: string,
  graceSeconds: number,
): Promise<RefreshTokenRow | undefined> {
  const [row] = await db<(Omit<RefreshTokenRow, "account"> & Omit<AccountRow, "id">)[]>`
    SELECT t.id, t.account_id, t.session_id, a.username, a.email, a.created_at,
           t.revoked_reason,
           ${graceSeconds}::int > 0 AND t.revoked_reason = 'rotated'
             AND t.revoked_at > NOW() - make_interval(secs => ${graceSeconds}::int) AS in_grace,
           t.expires_at <= NOW() AS expired,
           s.ended_at IS NOT NULL AS session_ended,
           NOT ${shown(db)} AS account_inactive
    FROM refresh_tokens t
    JOIN accounts a ON a.id = t.account_id
    JOIN sessions s ON s.id = t.session_id
    WHERE t.token_hash = ${hash}`;
  if (!row) return undefined;
  const { username, email, created_at, ...token } = row;
  return { ...token, account: { id: row.account_id, username, email, created_at } };
}

/** Marks a live token as used by a refresh. */
export async function rotateRefreshToken(db: Db, id: number): Promise<void> {
  await db`
    UPDATE refresh_tokens SET revoked_at = NOW(), revoked_reason = 'rotated'
    WHERE id = ${id} AND revoked_at IS NULL`;
}

/** Which of an account's sessions `endSessions` ends. */
export type SessionScope =
  /** Every session of the account. */
  | { accountId: number }
  /** Every session but one (the caller's; null: every session). */
  | { accountId: number; except: number | null }
  /** One session. */
  | { accountId: number; only: number };

/**
 * Ends the account's live sessions in `scope`, then revokes their live refresh tokens. `signedOut`
 * is the hash of the token presented to sign out (revoked as 'signed-out'); the others are revoked
 * as 'session-ended'. Returns the ids of the sessions ended.
 *
 * Two statements, not one: a refresh that holds a session locked may add a token to it while the
 * first waits for that lock, and only a statement that starts after it can see that token. Once a
 * session has ended no token can be added to it (`continueSession`), so nothing is left live. In
 * the sessions table the end is the truth: every use of a token checks it, so even a token left
 * live by a failure between the two is refused.
 */
export async function endSessions(
  db: Db,
  scope: SessionScope,
  signedOut: string | null = null,
): Promise<number[]> {
  const only = "only" in scope ? scope.only : null;
  const except = "except" in scope ? scope.except : null;
  const ended = await db<{ id: number }[]>`
    UPDATE sessions SET ended_at = NOW()
    WHERE account_id = ${scope.accountId} AND ended_at IS NULL
      AND (${only}::int IS NULL OR (id = ${only}::int AND expires_at > NOW()))
      AND (${except}::int IS NULL OR id <> ${except}::int)
    RETURNING id`;
  const ids = ended.map((row) => row.id);
  if (ids.length > 0) {
    await db`
      UPDATE refresh_tokens
      SET revoked_at = NOW(),
          revoked_reason = CASE WHEN token_hash = ${signedOut}::text
                                THEN 'signed-out' ELSE 'session-ended' END
      WHERE session_id = ANY(${arrayLiteral(ids)}::int[]) AND revoked_at IS NULL`;
  }
  return ids;
}

/** The account and session of a refresh token, whatever its state. */
export async function findRefreshTokenSession(
  db: Db,
  hash: string,
): Promise<{ account_id: number; session_id: number } | undefined> {
  const [row] = await db<{ account_id: number; session_id: number }[]>`
    SELECT account_id, session_id FROM refresh_tokens WHERE token_hash = ${hash}`;
  return row;
}

/** A live session as GET /me/sessions shows it. */
export interface SessionRow {
  id: number;
  created_at: Date;
  last_used_at: Date;
  expires_at: Date;
}

/** The account's live sessions (not ended, not expired), newest first. */
export async function liveSessions(db: Db, accountId: number): Promise<SessionRow[]> {
  return await db<SessionRow[]>`
    SELECT id, created_at, last_used_at, expires_at FROM sessions
    WHERE account_id = ${accountId} AND ended_at IS NULL AND expires_at > NOW()
    ORDER BY created_at DESC, id DESC`;
}
