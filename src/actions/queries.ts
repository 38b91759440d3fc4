/** SQL of the actions catalogue, completions and their idempotency keys. */
import { liveSession } from "../auth/queries.ts";
import type { Db } from "../db/mod.ts";
import { isoDate, type Window } from "../leaderboard/periods.ts";

/** A row of `actions`. */
export interface ActionRow {
  id: number;
  slug: string;
  label: string;
  point_value: number;
  created_at: Date;
  retired_at: Date | null;
}

/** Active actions, by slug. */
export async function listActions(db: Db, includeRetired: boolean): Promise<ActionRow[]> {
  return await db<ActionRow[]>`
    SELECT id, slug, label, point_value, created_at, retired_at FROM actions
    WHERE ${includeRetired} OR retired_at IS NULL
    ORDER BY slug`;
}

/** Adds an action; a taken slug surfaces as a unique violation. */
export async function insertAction(
  db: Db,
  action: { slug: string; label: string; pointValue: number },
): Promise<ActionRow> {
  const [row] = await db<ActionRow[]>`
    INSERT INTO actions (slug, label, point_value)
    VALUES (${action.slug}, ${action.label}, ${action.pointValue})
    RETURNING id, slug, label, point_value, created_at, retired_at`;
  return row;
}

/** Changes an action's label and/or point value; undefined when there is no such action. */
export async function updateAction(
  db: Db,
  slug: string,
  change: { label?: string; pointValue?: number },
): Promise<ActionRow | undefined> {
  const [row] = await db<ActionRow[]>`
    UPDATE actions
    SET label = COALESCE(${change.label ?? null}::text, label),
        point_value = COALESCE(${change.pointValue ?? null}::int, point_value)
    WHERE slug = ${slug}
    RETURNING id, slug, label, point_value, created_at, retired_at`;
  return row;
}

/** Retires an action (once: a second retirement keeps the first date). */
export async function retireAction(db: Db, slug: string): Promise<ActionRow | undefined> {
  const [row] = await db<ActionRow[]>`
    UPDATE actions SET retired_at = COALESCE(retired_at, NOW())
    WHERE slug = ${slug}
    RETURNING id, slug, label, point_value, created_at, retired_at`;
  return row;
}

/** A completion as stored, with its action's slug and current label. */
export interface CompletionRow {
  id: number;
  slug: string;
  label: string;
  points_earned: number;
  completed_at: Date;
}

/** What `insertCompletion` wrote: the log row and the account's new totals. */
export interface Inserted extends CompletionRow {
  username: string;
  total_points: number;
  day_points: number;
  week_points: number;
  month_points: number;
}

/** A completion to make: who, what, when, and the windows (day, week, month) `at` falls in. */
export interface NewCompletion {
  accountId: number;
  /** The access token's session, or null for a token without one. */
  sessionId: number | null;
  slug: string;
  key: string | null;
  at: Date;
  windows: { day: Window; week: Window; month: Window };
}

/**
 * Completes an action in one statement, which PostgreSQL runs as one transaction: it checks that
 * the account is active (holding it so until commit, against a concurrent deletion) and that the
 * action is active, claims the idempotency key, logs the completion with the action's current
 * point value and adds it to the ledger and to the account's day, week and month — all of it,
 * or nothing. The access token's session, when it names one, must be live too: ending a session
 * stops its tokens here without a query more.
 *
 * The key is claimed before anything is written (with the log row's id drawn ahead), so that a
 * request racing another with the same key waits for it and then writes nothing. Foreign keys
 * are checked at the end of the statement, once both rows exist.
 *
 * No row: the account, its session or the action is not active, or the key is taken
 * (`completionObstacle`).
 */
export async function insertCompletion(
  db: Db,
  completion: NewCompletion,
): Promise<Inserted | undefined> {
  const { accountId, sessionId, slug, key, at, windows } = completion;
  const [row] = await db<Inserted[]>`
    WITH account AS (
      SELECT id, username FROM accounts WHERE id = ${accountId} AND deleted_at IS NULL
        AND (${sessionId}::int IS NULL OR EXISTS (${liveSession(db, accountId, sessionId)}))
      FOR SHARE
    ), action AS (
      SELECT id, label, point_value FROM actions WHERE slug = ${slug} AND retired_at IS NULL
    ), drawn AS (
      SELECT nextval(pg_get_serial_sequence('action_log', 'id'))::int AS id
      FROM account, action
    ), claimed AS (
      INSERT INTO completion_idempotency_keys (account_id, idempotency_key, action_log_id)
      SELECT ${accountId}, ${key}::text, id FROM drawn WHERE ${key}::text IS NOT NULL
      ON CONFLICT DO NOTHING
      RETURNING action_log_id AS id
    ), go AS (
      SELECT id FROM claimed
      UNION ALL
      SELECT id FROM drawn WHERE ${key}::text IS NULL
    ), logged AS (
      INSERT INTO action_log (id, account_id, action_id, points_earned, completed_at)
      SELECT go.id, account.id, action.id, action.point_value, ${at}::timestamptz
      FROM go, account, action
      RETURNING id, account_id, points_earned, completed_at
    ), ledger AS (
      INSERT INTO score_ledger AS s (account_id, total_points)
      SELECT account_id, points_earned FROM logged
      ON CONFLICT (account_id) DO UPDATE
        SET total_points = s.total_points + EXCLUDED.total_points, last_activity_at = NOW()
      RETURNING total_points
    ), periods AS (
      INSERT INTO period_scores AS p (period, starts_at, account_id, total_points)
      SELECT w.period, w.starts_at, logged.account_id, logged.points_earned
      FROM logged, (VALUES ('day', ${isoDate(windows.day.start!)}::date),
                           ('week', ${isoDate(windows.week.start!)}::date),
                           ('month', ${isoDate(windows.month.start!)}::date))
                   AS w (period, starts_at)
      ON CONFLICT (period, starts_at, account_id) DO UPDATE
        SET total_points = p.total_points + EXCLUDED.total_points
      RETURNING period, total_points
    )
    SELECT logged.id, ${slug}::text AS slug, action.label, logged.points_earned,
           logged.completed_at, account.username, ledger.total_points,
           (SELECT total_points FROM periods WHERE period = 'day') AS day_points,
           (SELECT total_points FROM periods WHERE period = 'week') AS week_points,
           (SELECT total_points FROM periods WHERE period = 'month') AS month_points
    FROM logged, ledger, account, action`;
  return row;
}

/** Why `insertCompletion` wrote nothing, in the order the API answers them. */
export type Obstacle =
  | { kind: "account" | "missing" | "retired" }
  | { kind: "replay"; original: CompletionRow };

/** Finds out why a completion wrote nothing; an ended session is as gone as a deleted account. */
export async function completionObstacle(
  db: Db,
  completion: Pick<NewCompletion, "accountId" | "sessionId" | "slug" | "key">,
): Promise<Obstacle> {
  const { accountId, sessionId, slug, key } = completion;
  const [row] = await db<{ active: boolean; retired: boolean | null }[]>`
    SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ${accountId} AND deleted_at IS NULL)
             AND (${sessionId}::int IS NULL OR EXISTS (${liveSession(db, accountId, sessionId)}))
             AS active,
           (SELECT retired_at IS NOT NULL FROM actions WHERE slug = ${slug}) AS retired`;
  if (!row.active) return { kind: "account" };
  const original = key === null ? undefined : await completionByKey(db, accountId, key);
  if (original) return { kind: "replay", original };
  return { kind: row.retired === null ? "missing" : "retired" };
}

/** The completion an account made with an idempotency key. */
export async function completionByKey(
  db: Db,
  accountId: number,
  key: string,
): Promise<CompletionRow | undefined> {
  const [row] = await db<CompletionRow[]>`
    SELECT l.id, a.slug, a.label, l.points_earned, l.completed_at
    FROM completion_idempotency_keys k
    JOIN action_log l ON l.id = k.action_log_id
    JOIN actions a ON a.id = l.action_id
    WHERE k.account_id = ${accountId} AND k.idempotency_key = ${key}`;
  return row;
}

/** An account's completions, newest first, with ids below `before`; one more than `limit`. */
export async function completionsPage(
  db: Db,
  accountId: number,
  limit: number,
  before: number | null,
): Promise<CompletionRow[]> {
  return await db<CompletionRow[]>`
    SELECT l.id, a.slug, a.label, l.points_earned, l.completed_at
    FROM action_log l JOIN actions a ON a.id = l.action_id
    WHERE l.account_id = ${accountId} AND (${before}::int IS NULL OR l.id < ${before}::int)
    ORDER BY l.id DESC
    LIMIT ${limit + 1}`;
}
