/**
 * SQL of the boards' source of truth: `score_ledger` for all time, `period_scores` for a day, a
 * week or a month. Deleted accounts hold rows in both and are left out of every board here.
 * Equal totals are ordered by account id.
 */
import type { Fragment, Sql } from "postgres";
import type { Db } from "../db/mod.ts";
import type { Period, Window } from "./periods.ts";

/** An account's place in a board, as PostgreSQL reads it. */
export interface BoardRow {
  account_id: number;
  username: string;
  total_points: number;
}

/** A page: its rows, how many accounts rank above the first, and how many are ranked. */
export interface PageRows {
  rows: BoardRow[];
  above: number;
  total: number;
}

const MAX_SCAN = 1000;

/** `(account_id, total_points)` of the board of `window`, as a subquery. */
function board(db: Db, window: Window): Fragment {
  if (window.start === null) return db`(SELECT account_id, total_points FROM score_ledger)`;
  return db`(
    SELECT account_id, total_points FROM period_scores
    WHERE period = ${window.period} AND starts_at = ${window.startDate}::date
  )`;
}

/** `limit` rows from `offset`, best first, with the count above the first and the total. */
export async function pageRows(
  db: Db,
  window: Window,
  limit: number,
  offset: number,
): Promise<PageRows> {
  const [row] = await db<{ rows: BoardRow[]; above: number; total: number }[]>`
    WITH page AS MATERIALIZED (
      SELECT b.account_id, a.username, b.total_points
      FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
      WHERE a.deleted_at IS NULL
      ORDER BY b.total_points DESC, b.account_id
      LIMIT ${limit} OFFSET ${offset}
    )
    SELECT
      COALESCE((SELECT json_agg(page ORDER BY total_points DESC, account_id) FROM page), '[]')
        AS rows,
      (SELECT count(*) FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
       WHERE a.deleted_at IS NULL
         AND b.total_points > (SELECT max(total_points) FROM page))::int AS above,
      (SELECT count(*) FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
       WHERE a.deleted_at IS NULL)::int AS total`;
  return row;
}

/** How many active accounts of the board have strictly more than `total` points. */
export async function countAbove(db: Db, window: Window, total: number): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    SELECT count(*)::int AS n
    FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
    WHERE b.total_points > ${total} AND a.deleted_at IS NULL`;
  return row.n;
}

/** One active account's row in the board, with the count above it; undefined without points. */
export async function entryRow(
  db: Db,
  window: Window,
  accountId: number,
): Promise<(BoardRow & { above: number; before: number }) | undefined> {
  const [row] = await db<(BoardRow & { above: number; before: number })[]>`
    WITH me AS (
      SELECT b.account_id, a.username, b.total_points
      FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
      WHERE b.account_id = ${accountId} AND a.deleted_at IS NULL
    )
    SELECT me.*,
      (SELECT count(*) FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
       WHERE a.deleted_at IS NULL AND b.total_points > me.total_points)::int AS above,
      (SELECT count(*) FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
       WHERE a.deleted_at IS NULL AND b.total_points = me.total_points
         AND b.account_id < me.account_id)::int AS before
    FROM me`;
  return row;
}

/** The rows of the active accounts among `ids`, each with the count above it. */
export async function rowsOf(
  db: Db,
  window: Window,
  ids: number[],
): Promise<(BoardRow & { above: number })[]> {
  return await db<(BoardRow & { above: number })[]>`
    SELECT b.account_id, a.username, b.total_points,
      (SELECT count(*) FROM ${board(db, window)} o JOIN accounts oa ON oa.id = o.account_id
       WHERE oa.deleted_at IS NULL AND o.total_points > b.total_points)::int AS above
    FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
    WHERE b.account_id = ANY(${ids}::int[]) AND a.deleted_at IS NULL`;
}

/** An account's totals in the current windows (all time, day, week, month); undefined: none. */
export async function totalsOf(
  db: Db,
  accountId: number,
  windows: { day: Window; week: Window; month: Window },
): Promise<Record<Period, number | undefined>> {
  const one = (window: Window) =>
    db`(SELECT total_points FROM ${board(db, window)} b WHERE b.account_id = ${accountId})`;
  const [row] = await db<Record<Period, number | null>[]>`
    SELECT (SELECT total_points FROM score_ledger WHERE account_id = ${accountId}) AS "all",
           ${one(windows.day)} AS day, ${one(windows.week)} AS week, ${
    one(windows.month)
  } AS month`;
  return {
    all: row.all ?? undefined,
    day: row.day ?? undefined,
    week: row.week ?? undefined,
    month: row.month ?? undefined,
  };
}

/** Whether the board of `window` ranks any active account. */
export async function anyRanked(db: Db, window: Window): Promise<boolean> {
  const [row] = await db<{ any: boolean }[]>`
    SELECT EXISTS (
      SELECT 1 FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
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

/** A board row as the Redis copy needs it; deleted accounts come with `deleted` set. */
export interface CopyRow {
  account_id: number;
  username: string;
  total_points: number;
  deleted: boolean;
}

/** The rows of `ids` in the board (those without one are absent). */
export async function copyRows(db: Db, window: Window, ids: number[]): Promise<CopyRow[]> {
  return await db<CopyRow[]>`
    SELECT b.account_id, a.username, b.total_points, a.deleted_at IS NOT NULL AS deleted
    FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
    WHERE b.account_id = ANY(${ids}::int[])`;
}

/** Every row of the board, in batches, for rebuilding a copy without holding it all in memory. */
export function scanBoard(sql: Sql, window: Window): AsyncIterable<CopyRow[]> {
  return sql<CopyRow[]>`
    SELECT b.account_id, a.username, b.total_points, a.deleted_at IS NOT NULL AS deleted
    FROM ${board(sql, window)} b JOIN accounts a ON a.id = b.account_id`.cursor(MAX_SCAN);
}
