/**
 * SQL of the boards' source of truth: `score_ledger` for all time, `period_scores` for a day, a
 * week or a month. Hidden accounts (deleted or suspended) hold rows in both and are left out of
 * every board here, as are rows whose total voids brought to 0. Equal totals are ordered by
 * account id.
 */
import type { Fragment, Sql } from "postgres";
import { arrayLiteral, type Db } from "../db/mod.ts";
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

/** `(account_id, total_points)` of every row of the board of `window`, as a subquery. */
function rows(db: Db, window: Window): Fragment {
  if (window.start === null) return db`(SELECT account_id, total_points FROM score_ledger)`;
  return db`(
    SELECT account_id, total_points FROM period_scores
    WHERE period = ${window.period} AND starts_at = ${window.startDate}::date
  )`;
}

/** The rows of the board of `window` that have points (voids can bring one to 0). */
function board(db: Db, window: Window): Fragment {
  return db`(SELECT * FROM ${rows(db, window)} r WHERE r.total_points > 0)`;
}

/**
 * Whether the account `a` (the alias every statement gives `accounts`) is shown on the boards and
 * may act: neither deleted nor suspended.
 */
export function shown(db: Db): Fragment {
  return db`(a.deleted_at IS NULL AND a.suspended_at IS NULL)`;
}

/**
 * The board's rows of hidden accounts. Counts subtract them rather than join every row with
 * `accounts`: counting the board alone walks its index only, and hidden accounts are few (a
 * partial index finds them).
 */
function hidden(db: Db, window: Window): Fragment {
  return db`(
    SELECT b.account_id, b.total_points
    FROM accounts a JOIN ${board(db, window)} b ON b.account_id = a.id
    WHERE a.deleted_at IS NOT NULL OR a.suspended_at IS NOT NULL
  )`;
}

/** How many active accounts have strictly more points than `total` (an expression). */
function countAboveOf(db: Db, window: Window, total: Fragment): Fragment {
  return db`(
    (SELECT count(*) FROM ${board(db, window)} b WHERE b.total_points > ${total})
    - (SELECT count(*) FROM ${hidden(db, window)} d WHERE d.total_points > ${total})
  )::int`;
}

/** How many active accounts the board ranks. */
function rankedCount(db: Db, window: Window): Fragment {
  return db`(
    (SELECT count(*) FROM ${board(db, window)} b)
    - (SELECT count(*) FROM ${hidden(db, window)} d)
  )::int`;
}

/** The board's active rows with their usernames, best first (a fragment to filter and limit). */
function activeRows(db: Db, window: Window, where: Fragment, order: Fragment, limit: number) {
  return db`(
    SELECT b.account_id, a.username, b.total_points
    FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
    WHERE ${shown(db)} AND ${where}
    ORDER BY ${order}
    LIMIT ${limit}
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
      WHERE ${shown(db)}
      ORDER BY b.total_points DESC, b.account_id
      LIMIT ${limit} OFFSET ${offset}
    )
    SELECT
      COALESCE((SELECT json_agg(page ORDER BY total_points DESC, account_id) FROM page), '[]')
        AS rows,
      ${countAboveOf(db, window, db`(SELECT max(total_points) FROM page)`)} AS above,
      ${rankedCount(db, window)} AS total`;
  return row;
}

/** How many active accounts of the board have strictly more than `total` points. */
export async function countAbove(db: Db, window: Window, total: number): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    SELECT ${countAboveOf(db, window, db`${total}::int`)} AS n`;
  return row.n;
}

/**
 * One active account's row in the board, with the count above it and the count of equal ones
 * before it (its place in board order is their sum); undefined without points.
 */
export async function entryRow(
  db: Db,
  window: Window,
  accountId: number,
): Promise<(BoardRow & { above: number; before: number }) | undefined> {
  const [row] = await db<(BoardRow & { above: number; before: number })[]>`
    WITH me AS (
      SELECT b.account_id, a.username, b.total_points
      FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
      WHERE b.account_id = ${accountId} AND ${shown(db)}
    )
    SELECT me.*,
      ${countAboveOf(db, window, db`me.total_points`)} AS above,
      ((SELECT count(*) FROM ${board(db, window)} b
        WHERE b.total_points = me.total_points AND b.account_id < me.account_id)
       - (SELECT count(*) FROM ${hidden(db, window)} d
          WHERE d.total_points = me.total_points AND d.account_id < me.account_id))::int AS before
    FROM me`;
  return row;
}

/**
 * Up to `radius` active rows just before and just after an account's row in board order, each
 * list in board order. Four short walks of the board's index, however deep the account is.
 */
export async function neighbourRows(
  db: Db,
  window: Window,
  me: BoardRow,
  radius: number,
): Promise<{ before: BoardRow[]; after: BoardRow[] }> {
  const { total_points: total, account_id: id } = me;
  const rows = await db<(BoardRow & { side: "before" | "after" })[]>`
    SELECT 'before' AS side, * FROM ${
    activeRows(
      db,
      window,
      db`b.total_points = ${total} AND b.account_id < ${id}`,
      db`b.account_id DESC`,
      radius,
    )
  } AS tied_before
    UNION ALL
    SELECT 'before', * FROM ${
    activeRows(
      db,
      window,
      db`b.total_points > ${total}`,
      db`b.total_points ASC, b.account_id DESC`,
      radius,
    )
  } AS higher
    UNION ALL
    SELECT 'after', * FROM ${
    activeRows(
      db,
      window,
      db`b.total_points = ${total} AND b.account_id > ${id}`,
      db`b.account_id ASC`,
      radius,
    )
  } AS tied_after
    UNION ALL
    SELECT 'after', * FROM ${
    activeRows(
      db,
      window,
      db`b.total_points < ${total}`,
      db`b.total_points DESC, b.account_id ASC`,
      radius,
    )
  } AS lower`;
  const inOrder = (a: BoardRow, b: BoardRow) =>
    b.total_points - a.total_points || a.account_id - b.account_id;
  const side = (name: string) =>
    rows.filter((row) => row.side === name).map(({ side: _, ...row }) => row).sort(inOrder);
  return { before: side("before").slice(-radius), after: side("after").slice(0, radius) };
}

/**
 * The rows of the active accounts among `ids`, each with the count above it: one walk of the
 * board above the lowest of them, whatever their number.
 */
export async function rowsOf(
  db: Db,
  window: Window,
  ids: number[],
): Promise<(BoardRow & { above: number })[]> {
  return await db<(BoardRow & { above: number })[]>`
    WITH picked AS MATERIALIZED (
      SELECT b.account_id, a.username, b.total_points
      FROM ${board(db, window)} b JOIN accounts a ON a.id = b.account_id
      WHERE b.account_id = ANY(${arrayLiteral(ids)}::int[]) AND ${shown(db)}
    ), totals AS (
      SELECT b.total_points, count(*) AS n
      FROM ${board(db, window)} b
      WHERE b.total_points >= (SELECT min(total_points) FROM picked)
      GROUP BY b.total_points
    ), ranks AS (
      SELECT total_points, sum(n) OVER (ORDER BY total_points DESC) - n AS above FROM totals
    ), gone AS MATERIALIZED (
      SELECT total_points FROM ${hidden(db, window)} d
    )
    SELECT p.*,
      (r.above - (SELECT count(*) FROM gone WHERE gone.total_points > p.total_points))::int
        AS above
    FROM picked p JOIN ranks r ON r.total_points = p.total_points`;
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
      WHERE ${shown(db)}
    ) AS any`;
  return row.any;
}

/** Usernames of the shown accounts among `ids`. */
export async function usernames(db: Db, ids: number[]): Promise<Map<number, string>> {
  const list = arrayLiteral(ids);
  const rows = await db<{ id: number; username: string }[]>`
    SELECT id, username FROM accounts a WHERE id = ANY(${list}::int[]) AND ${shown(db)}`;
  return new Map(rows.map((row) => [row.id, row.username]));
}

/**
 * A board row as the Redis copy needs it: hidden accounts, and rows voids brought to 0, come too,
 * so that the copy holds their revision (a late write of an older state cannot bring one back).
 */
export interface CopyRow {
  account_id: number;
  username: string;
  total_points: number;
  hidden: boolean;
  revision: number;
}

/** Every row of the board, in batches, for rebuilding a copy without holding it all in memory. */
export function scanBoard(sql: Sql, window: Window): AsyncIterable<CopyRow[]> {
  return sql<CopyRow[]>`
    SELECT b.account_id, a.username, b.total_points, NOT ${shown(sql)} AS hidden,
           s.revision::float8 AS revision
    FROM ${rows(sql, window)} b JOIN accounts a ON a.id = b.account_id
         JOIN score_ledger s ON s.account_id = b.account_id`.cursor(MAX_SCAN);
}

/** What `accountStates` reads of one account. */
export interface StateRow {
  account_id: number;
  username: string;
  hidden: boolean;
  revision: number;
  all: number;
  day: number;
  week: number;
  month: number;
}

/**
 * The accounts' states on the boards of `windows` (totals, whether shown, revision), each read in
 * one snapshot; accounts without points (no ledger row) are absent.
 */
export async function accountStates(
  db: Db,
  ids: number[],
  windows: { day: Window; week: Window; month: Window },
): Promise<StateRow[]> {
  const one = (window: Window) =>
    db`COALESCE((SELECT total_points FROM ${rows(db, window)} p
                 WHERE p.account_id = s.account_id), 0)`;
  return await db<StateRow[]>`
    SELECT s.account_id, a.username, NOT ${shown(db)} AS hidden, s.revision::float8 AS revision,
           s.total_points AS "all", ${one(windows.day)} AS day, ${one(windows.week)} AS week,
           ${one(windows.month)} AS month
    FROM score_ledger s JOIN accounts a ON a.id = s.account_id
    WHERE s.account_id = ANY(${arrayLiteral(ids)}::int[])`;
}
