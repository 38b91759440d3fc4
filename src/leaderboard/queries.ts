/** SQL of the ranking's source of truth, `score_ledger`, and of the names shown beside it. */
import type { Sql } from "postgres";
import type { Db } from "../db/mod.ts";

/** A ranked row read from PostgreSQL. */
export interface RankedRow {
  rank: number;
  account_id: number;
  username: string;
  total_points: number;
}

const MAX_SCAN = 1000;

/** A page of the ranking computed by PostgreSQL (when Redis cannot answer). */
export async function rankedPage(db: Db, limit: number, offset: number): Promise<RankedRow[]> {
  return await db<RankedRow[]>`
    SELECT (rank() OVER (ORDER BY s.total_points DESC))::int AS rank,
           s.account_id, a.username, s.total_points
    FROM score_ledger s JOIN accounts a ON a.id = s.account_id
    WHERE a.deleted_at IS NULL
    ORDER BY s.total_points DESC, s.account_id
    LIMIT ${limit} OFFSET ${offset}`;
}

/** One active account's total, or undefined when it has none (or is deleted). */
export async function totalOf(db: Db, accountId: number): Promise<number | undefined> {
  const [row] = await db<{ total_points: number }[]>`
    SELECT s.total_points
    FROM score_ledger s JOIN accounts a ON a.id = s.account_id
    WHERE s.account_id = ${accountId} AND a.deleted_at IS NULL`;
  return row?.total_points;
}

/** How many active accounts have strictly more than `total` points. */
export async function countAbove(db: Db, total: number): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    SELECT count(*)::int AS n
    FROM score_ledger s JOIN accounts a ON a.id = s.account_id
    WHERE s.total_points > ${total} AND a.deleted_at IS NULL`;
  return row.n;
}

/** Whether any active account has points (an empty sorted set is then a lost one). */
export async function anyRanked(db: Db): Promise<boolean> {
  const [row] = await db<{ any: boolean }[]>`
    SELECT EXISTS (
      SELECT 1 FROM score_ledger s JOIN accounts a ON a.id = s.account_id
      WHERE a.deleted_at IS NULL
    ) AS any`;
  return row.any;
}

/** Usernames of the active accounts among `ids`. */
export async function usernames(db: Db, ids: number[]): Promise<Map<number, string>> {
  const rows = await db<{ id: number; username: string }[]>`
    SELECT id, username FROM accounts WHERE id = ANY(${ids}::int[]) AND deleted_at IS NULL`;
  return new Map(rows.map((row) => [row.id, row.username]));
}

/** A ledger row as the ranking needs it. */
export interface LedgerRow {
  account_id: number;
  total_points: number;
  deleted: boolean;
}

/** The ledger rows of `ids` (those with none are absent). */
export async function ledgerRows(db: Db, ids: number[]): Promise<LedgerRow[]> {
  return await db<LedgerRow[]>`
    SELECT s.account_id, s.total_points, a.deleted_at IS NOT NULL AS deleted
    FROM score_ledger s JOIN accounts a ON a.id = s.account_id
    WHERE s.account_id = ANY(${ids}::int[])`;
}

/** Every ledger row, in batches, for rebuilding the ranking without holding it all in memory. */
export function scanLedger(sql: Sql): AsyncIterable<LedgerRow[]> {
  return sql<LedgerRow[]>`
    SELECT s.account_id, s.total_points, a.deleted_at IS NOT NULL AS deleted
    FROM score_ledger s JOIN accounts a ON a.id = s.account_id`.cursor(MAX_SCAN);
}
