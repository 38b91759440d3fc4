/** SQL of moderation: accounts as operators see them, suspensions, voids, and the audit trail. */
import type { Db } from "../db/mod.ts";
import type { CompletionRow } from "../actions/queries.ts";

/** An account as an operator sees it (API.md's `AdminAccount`, but its rank). */
export interface AdminAccountRow {
  id: number;
  username: string;
  email: string;
  created_at: Date;
  deleted_at: Date | null;
  suspended_at: Date | null;
  suspension_until: Date | null;
  suspension_reason: string | null;
  total_points: number;
  /** Live sessions. */
  sessions: number;
}

/** The columns of an AdminAccountRow, from `accounts a` and `score_ledger s`. */
const adminColumns = (db: Db) =>
  db`a.id, a.username, a.email, a.created_at, a.deleted_at, a.suspended_at,
     a.suspension_until, a.suspension_reason, COALESCE(s.total_points, 0) AS total_points,
     (SELECT count(*)::int FROM sessions x
      WHERE x.account_id = a.id AND x.ended_at IS NULL AND x.expires_at > NOW()) AS sessions`;

/** `text` as the start of a LIKE pattern, its wildcards taken literally. */
function prefixPattern(text: string): string {
  return `${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * Accounts whose username or email starts with `q` (case-insensitively; every account without
 * it), newest first, with ids below `before`: one more than `limit`.
 */
export async function adminAccounts(
  db: Db,
  query: { q: string | null; limit: number; before: number | null },
): Promise<AdminAccountRow[]> {
  const pattern = query.q === null ? null : prefixPattern(query.q);
  return await db<AdminAccountRow[]>`
    SELECT ${adminColumns(db)}
    FROM accounts a LEFT JOIN score_ledger s ON s.account_id = a.id
    WHERE (${pattern}::text IS NULL OR lower(a.username) LIKE ${pattern} OR a.email LIKE ${pattern})
      AND (${query.before}::int IS NULL OR a.id < ${query.before}::int)
    ORDER BY a.id DESC
    LIMIT ${query.limit + 1}`;
}

/** One account as an operator sees it. */
export async function adminAccount(db: Db, id: number): Promise<AdminAccountRow | undefined> {
  const [row] = await db<AdminAccountRow[]>`
    SELECT ${adminColumns(db)}
    FROM accounts a LEFT JOIN score_ledger s ON s.account_id = a.id
    WHERE a.id = ${id}`;
  return row;
}

/** Whether the account exists (deleted or not). */
export async function accountExists(db: Db, id: number): Promise<boolean> {
  const [row] = await db<{ found: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ${id}) AS found`;
  return row.found;
}

/** What a suspension was, for the trail. */
export interface SuspensionRow {
  suspended_at: Date;
  suspension_until: Date | null;
  suspension_reason: string;
}

/**
 * Suspends the account from `now` until `until` (null: until lifted); an account already
 * suspended keeps its start and takes the new reason and end. Answers the suspension before, or
 * null (there was none); undefined when there is no such account.
 */
export async function suspend(
  db: Db,
  id: number,
  suspension: { reason: string; until: Date | null; now: Date },
): Promise<{ before: SuspensionRow | null } | undefined> {
  const [row] = await db<(Partial<SuspensionRow> & { id: number })[]>`
    WITH old AS (
      SELECT id, suspended_at, suspension_until, suspension_reason FROM accounts
      WHERE id = ${id} FOR UPDATE
    )
    UPDATE accounts a
    SET suspended_at = COALESCE(a.suspended_at, ${suspension.now}::timestamptz),
        suspension_until = ${suspension.until}::timestamptz,
        suspension_reason = ${suspension.reason}
    FROM old WHERE a.id = old.id
    RETURNING old.id, old.suspended_at, old.suspension_until, old.suspension_reason`;
  if (!row) return undefined;
  return { before: row.suspended_at ? (row as SuspensionRow) : null };
}

/**
 * Lifts the account's suspension — every one, or with `due`, only one that has ended by then.
 * Answers the suspension lifted, or null when there was none (or it had not ended).
 */
export async function lift(
  db: Db,
  id: number,
  due: Date | null = null,
): Promise<SuspensionRow | null> {
  const [row] = await db<SuspensionRow[]>`
    WITH old AS (
      SELECT id, suspended_at, suspension_until, suspension_reason FROM accounts
      WHERE id = ${id} AND suspended_at IS NOT NULL
        AND (${due}::timestamptz IS NULL OR suspension_until <= ${due}::timestamptz)
      FOR UPDATE
    )
    UPDATE accounts a
    SET suspended_at = NULL, suspension_until = NULL, suspension_reason = NULL
    FROM old WHERE a.id = old.id
    RETURNING old.suspended_at, old.suspension_until, old.suspension_reason`;
  return row ?? null;
}

/** Accounts whose suspension has ended by `now`, the earliest first. */
export async function dueSuspensions(db: Db, now: Date, limit = 100): Promise<number[]> {
  const rows = await db<{ id: number }[]>`
    SELECT id FROM accounts
    WHERE suspension_until <= ${now}::timestamptz
    ORDER BY suspension_until
    LIMIT ${limit}`;
  return rows.map((row) => row.id);
}

/** A completion as an operator sees it: its account too. */
export interface AdminCompletionRow extends CompletionRow {
  account_id: number;
}

/**
 * Voids a completion at `now`: its points leave the ledger and the day, week and month it counted
 * in (its row stays as it is; the void is a row of its own, and the account's revision one more).
 * Answers the completion, with `voided` false when it was voided already; undefined when there is
 * no such completion. In a transaction (`db`): it holds the account's `completion_rate` row first,
 * as a completion does before it checks the rules, and then forgets what `rule_standing` kept of
 * the account and the action (counted again, without the void, by the next completion — which
 * waits for this transaction to end). Its own statement after the wait, so that it sees a row
 * written by a completion committed meanwhile.
 */
export async function voidCompletion(
  db: Db,
  id: number,
  voiding: { reason: string; now: Date },
): Promise<(AdminCompletionRow & { voided: boolean }) | undefined> {
  await db`
    SELECT 1 FROM completion_rate r JOIN action_log l ON l.account_id = r.account_id
    WHERE l.id = ${id}
    FOR UPDATE OF r`;
  const row = await voidRow(db, id, voiding);
  if (row?.voided) {
    await db`
      DELETE FROM rule_standing s USING action_log l
      WHERE l.id = ${id} AND s.account_id = l.account_id AND s.action_id = l.action_id`;
  }
  return row;
}

async function voidRow(
  db: Db,
  id: number,
  voiding: { reason: string; now: Date },
): Promise<(AdminCompletionRow & { voided: boolean }) | undefined> {
  const [row] = await db<(AdminCompletionRow & { voided: boolean })[]>`
    WITH target AS (
      SELECT l.id, l.account_id, l.action_id, l.points_earned, l.completed_at
      FROM action_log l WHERE l.id = ${id}
    ), voided AS (
      INSERT INTO completion_voids
        (action_log_id, account_id, action_id, completed_at, voided_at, reason)
      SELECT id, account_id, action_id, completed_at, ${voiding.now}::timestamptz,
             ${voiding.reason}
      FROM target
      ON CONFLICT (action_log_id) DO NOTHING
      RETURNING action_log_id, voided_at
    ), ledger AS (
      UPDATE score_ledger s
      SET total_points = s.total_points - t.points_earned, revision = s.revision + 1
      FROM target t JOIN voided v ON v.action_log_id = t.id
      WHERE s.account_id = t.account_id
      RETURNING s.account_id
    ), locked AS (
      -- The ledger row first, then the period rows in period order: as the completion statement
      -- locks them (src/actions/queries.ts), so that the two never wait for each other.
      SELECT p.period, p.starts_at
      FROM period_scores p, target t,
           LATERAL (VALUES
             ('day', (t.completed_at AT TIME ZONE 'UTC')::date),
             ('week', date_trunc('week', t.completed_at AT TIME ZONE 'UTC')::date),
             ('month', date_trunc('month', t.completed_at AT TIME ZONE 'UTC')::date))
             AS w (period, starts_at)
      WHERE EXISTS (SELECT 1 FROM ledger)
        AND p.account_id = t.account_id AND p.period = w.period AND p.starts_at = w.starts_at
      ORDER BY p.period
      FOR UPDATE OF p
    ), periods AS (
      UPDATE period_scores p SET total_points = p.total_points - t.points_earned
      FROM target t, locked l
      WHERE p.account_id = t.account_id AND p.period = l.period AND p.starts_at = l.starts_at
      RETURNING p.account_id
    )
    SELECT t.id, t.account_id, x.slug, x.label, t.points_earned, t.completed_at,
           COALESCE(v.voided_at, old.voided_at) AS voided_at, v.action_log_id IS NOT NULL AS voided
    FROM target t JOIN actions x ON x.id = t.action_id
    LEFT JOIN voided v ON v.action_log_id = t.id
    LEFT JOIN completion_voids old ON old.action_log_id = t.id`;
  return row;
}

/** The operator changes the trail keeps (API.md's `AuditEntry.action`). */
export type AuditAction =
  | "action.created"
  | "action.updated"
  | "action.retired"
  | "account.suspended"
  | "account.reinstated"
  | "completion.voided";

/** Who made a change: the request, and the caller's address (null for the instance itself). */
export interface AuditContext {
  requestId: string | null;
  client: string | null;
}

/** A row of `audit_log`. */
export interface AuditRow {
  id: number;
  at: Date;
  action: AuditAction;
  target: string;
  detail: Record<string, unknown>;
  request_id: string | null;
  client: string | null;
}

/** Records a change in the trail, in the caller's transaction (`db`: the change's own). */
export async function recordAudit(
  db: Db,
  entry: { action: AuditAction; target: string; detail: Record<string, unknown> },
  context: AuditContext,
): Promise<void> {
  await db`
    INSERT INTO audit_log (action, target, detail, request_id, client)
    VALUES (${entry.action}, ${entry.target}, ${JSON.stringify(entry.detail)}::text::jsonb,
            ${context.requestId}, ${context.client})`;
}

/** The trail, newest first, ids below `before`, of one target or all: one more than `limit`. */
export async function auditPage(
  db: Db,
  query: { limit: number; before: number | null; target: string | null },
): Promise<AuditRow[]> {
  const rows = await db<(Omit<AuditRow, "detail"> & { detail: string })[]>`
    SELECT id::float8 AS id, at, action, target, detail::text AS detail, request_id, client
    FROM audit_log
    WHERE (${query.target}::text IS NULL OR target = ${query.target}::text)
      AND (${query.before}::bigint IS NULL OR id < ${query.before}::bigint)
    ORDER BY id DESC
    LIMIT ${query.limit + 1}`;
  return rows.map((row) => ({ ...row, detail: JSON.parse(row.detail) }));
}
