/** SQL of accounts and refresh tokens. Each function takes the `sql` or transaction handle first. */
import type { TransactionSql } from "postgres";
import type { Db } from "../db/mod.ts";

/** An account as the API shows it. */
export interface AccountRow {
  id: number;
  username: string;
  email: string;
  created_at: Date;
}

/** Inserts an account; unique violations surface as postgres errors (code 23505). */
export async function insertAccount(
  db: Db,
  account: { username: string; email: string; passwordHash: string },
): Promise<AccountRow> {
  const [row] = await db<AccountRow[]>`
    INSERT INTO accounts (username, email, password_hash)
    VALUES (${account.username}, ${account.email}, ${account.passwordHash})
    RETURNING id, username, email, created_at`;
  return row;
}

/** The account with this (lower-cased) email, deleted or not, with what login needs. */
export async function findAccountByEmail(
  db: Db,
  email: string,
): Promise<(AccountRow & { password_hash: string; deleted_at: Date | null }) | undefined> {
  const [row] = await db<(AccountRow & { password_hash: string; deleted_at: Date | null })[]>`
    SELECT id, username, email, created_at, password_hash, deleted_at
    FROM accounts WHERE email = ${email}`;
  return row;
}

/** The account if it exists and is not deleted. */
export async function findActiveAccount(db: Db, id: number): Promise<AccountRow | undefined> {
  const [row] = await db<AccountRow[]>`
    SELECT id, username, email, created_at
    FROM accounts WHERE id = ${id} AND deleted_at IS NULL`;
  return row;
}

/** Soft-deletes an active account; false when it was not active. */
export async function softDeleteAccount(db: Db, id: number): Promise<boolean> {
  const result = await db`
    UPDATE accounts SET deleted_at = NOW() WHERE id = ${id} AND deleted_at IS NULL`;
  return result.count === 1;
}

/** Stores the hash of a new refresh token. */
export async function insertRefreshToken(
  db: Db,
  token: { accountId: number; hash: string; ttlSeconds: number },
): Promise<void> {
  await db`
    INSERT INTO refresh_tokens (account_id, token_hash, expires_at)
    VALUES (${token.accountId}, ${token.hash},
            NOW() + make_interval(secs => ${token.ttlSeconds}))`;
}

/** A stored refresh token and whether it can still be used. */
export interface RefreshTokenRow {
  id: number;
  account_id: number;
  /** Its account, as the new session shows it. */
  account: AccountRow;
  revoked: boolean;
  expired: boolean;
  account_deleted: boolean;
}

/**
 * Finds a refresh token by hash and locks its row until the transaction ends, so that two
 * refreshes with the same token run one after the other.
 */
export async function lockRefreshToken(
  tx: TransactionSql,
  hash: string,
): Promise<RefreshTokenRow | undefined> {
  const [row] = await tx<(Omit<RefreshTokenRow, "account"> & Omit<AccountRow, "id">)[]>`
    SELECT t.id, t.account_id, a.username, a.email, a.created_at,
           t.revoked_at IS NOT NULL AS revoked,
           t.expires_at <= NOW() AS expired,
           a.deleted_at IS NOT NULL AS account_deleted
    FROM refresh_tokens t JOIN accounts a ON a.id = t.account_id
    WHERE t.token_hash = ${hash}
    FOR UPDATE OF t`;
  if (!row) return undefined;
  const { username, email, created_at, ...token } = row;
  return { ...token, account: { id: row.account_id, username, email, created_at } };
}

/** Revokes one token. */
export async function revokeRefreshToken(db: Db, id: number): Promise<void> {
  await db`UPDATE refresh_tokens SET revoked_at = NOW() WHERE id = ${id} AND revoked_at IS NULL`;
}

/** Revokes the token with this hash if it is live (sign-out); false when there was none. */
export async function revokeRefreshTokenByHash(db: Db, hash: string): Promise<boolean> {
  const result = await db`
    UPDATE refresh_tokens SET revoked_at = NOW()
    WHERE token_hash = ${hash} AND revoked_at IS NULL`;
  return result.count === 1;
}

/** Revokes every live refresh token of an account. */
export async function revokeAllRefreshTokens(db: Db, accountId: number): Promise<number> {
  const result = await db`
    UPDATE refresh_tokens SET revoked_at = NOW()
    WHERE account_id = ${accountId} AND revoked_at IS NULL`;
  return result.count;
}
