/** SQL of the actions catalogue, completions and their idempotency keys. */
import { liveSession } from "../auth/queries.ts";
import { arrayLiteral, type Db } from "../db/mod.ts";
import type { Window } from "../leaderboard/periods.ts";
import { shown } from "../leaderboard/queries.ts";
import { type LimitPer, type Rules, standing } from "./rules.ts";

/** A row of `actions`. */
export interface ActionRow {
  id: number;
  slug: string;
  label: string;
  point_value: number;
  created_at: Date;
  retired_at: Date | null;
  limit_count: number | null;
  limit_per: LimitPer | null;
  cooldown_seconds: number | null;
}

/** The columns of an ActionRow. */
const actionColumns = (db: Db) =>
  db`id, slug, label, point_value, created_at, retired_at, limit_count, limit_per,
     cooldown_seconds`;

/** The columns of an ActionRow, of `actions x`. */
const actionColumnsOf = (db: Db) =>
  db`x.id, x.slug, x.label, x.point_value, x.created_at, x.retired_at, x.limit_count,
     x.limit_per, x.cooldown_seconds`;

/** An action's rules, from its row. */
export function rulesOf(row: ActionRow): Rules {
  return {
    limit: row.limit_count === null ? null : { count: row.limit_count, per: row.limit_per! },
    cooldownSeconds: row.cooldown_seconds,
  };
}

/** Active actions, by slug. */
export async function listActions(db: Db, includeRetired: boolean): Promise<ActionRow[]> {
  return await db<ActionRow[]>`
    SELECT ${actionColumns(db)} FROM actions
    WHERE ${includeRetired} OR retired_at IS NULL
    ORDER BY slug`;
}

/** Adds an action; a taken slug surfaces as a unique violation. */
export async function insertAction(
  db: Db,
  action: { slug: string; label: string; pointValue: number } & Partial<Rules>,
): Promise<ActionRow> {
  const [row] = await db<ActionRow[]>`
    INSERT INTO actions (slug, label, point_value, limit_count, limit_per, cooldown_seconds)
    VALUES (${action.slug}, ${action.label}, ${action.pointValue},
            ${action.limit?.count ?? null}, ${action.limit?.per ?? null},
            ${action.cooldownSeconds ?? null})
    RETURNING ${actionColumns(db)}`;
  return row;
}

/**
 * Changes what `change` gives of an action (a rule given as null is cleared); undefined when there
 * is no such action. A change of its rules is a new `rules_revision`: what `rule_standing` kept
 * under the old rules is counted again from the log.
 */
export async function updateAction(
  db: Db,
  slug: string,
  change: { label?: string; pointValue?: number } & Partial<Rules>,
): Promise<ActionRow | undefined> {
  const rulesChanged = change.limit !== undefined || change.cooldownSeconds !== undefined;
  const [row] = await db<ActionRow[]>`
    UPDATE actions
    SET label = COALESCE(${change.label ?? null}::text, label),
        point_value = COALESCE(${change.pointValue ?? null}::int, point_value),
        limit_count = CASE WHEN ${change.limit !== undefined} THEN ${
    change.limit?.count ?? null
  }::int
                      ELSE limit_count END,
        limit_per = CASE WHEN ${change.limit !== undefined} THEN ${change.limit?.per ?? null}::text
                    ELSE limit_per END,
        cooldown_seconds = CASE WHEN ${change.cooldownSeconds !== undefined}
                           THEN ${change.cooldownSeconds ?? null}::int ELSE cooldown_seconds END,
        rules_revision = rules_revision + ${rulesChanged ? 1 : 0}
    WHERE slug = ${slug}
    RETURNING ${actionColumns(db)}`;
  return row;
}

/**
 * Retires an action (once: a second retirement keeps the first date); `newly` says whether this
 * call retired it.
 */
export async function retireAction(
  db: Db,
  slug: string,
): Promise<(ActionRow & { newly: boolean }) | undefined> {
  const [row] = await db<(ActionRow & { newly: boolean })[]>`
    WITH old AS (SELECT id, retired_at FROM actions WHERE slug = ${slug} FOR UPDATE)
    UPDATE actions x SET retired_at = COALESCE(x.retired_at, NOW())
    FROM old WHERE x.id = old.id
    RETURNING ${actionColumnsOf(db)}, old.retired_at IS NULL AS newly`;
  return row;
}

/** The windows (day, week, month) a completion or a reading falls in, as SQL dates. */
interface WindowDates {
  day: Fragment;
  week: Fragment;
  month: Fragment;
}

type Fragment = ReturnType<Db>;

/**
 * `LATERAL (…) AS bounds`: `bounds.since` and `bounds.until`, the window the limit of action `x`
 * counts in, as timestamps (both null for a limit over `ever`, or none), from the dates on which
 * its day, week and month start.
 */
function limitBounds(db: Db, dates: WindowDates): Fragment {
  return db`LATERAL (
      SELECT d::timestamp AT TIME ZONE 'UTC' AS since,
             (CASE x.limit_per WHEN 'day' THEN d + 1 WHEN 'week' THEN d + 7
              ELSE (d + interval '1 month')::date END)::timestamp AT TIME ZONE 'UTC' AS until
      FROM (SELECT CASE x.limit_per WHEN 'day' THEN ${dates.day} WHEN 'week' THEN ${dates.week}
                                    WHEN 'month' THEN ${dates.month} END AS d) AS w
    ) AS bounds`;
}

/** The dates of the current windows of `windows`, as parameters. */
function windowParams(db: Db, windows: NewCompletion["windows"]): WindowDates {
  return {
    day: db`${windows.day.startDate}::date`,
    week: db`${windows.week.startDate}::date`,
    month: db`${windows.month.startDate}::date`,
  };
}

/** An active action with the account's use of it (null without rules). */
export interface MyActionRow extends ActionRow {
  completions: number | null;
  last_at: Date | null;
}

/**
 * Every active action, by slug, with the account's completions of it in its limit's current
 * window and its latest completion — for actions with rules only: one query.
 */
export async function myActions(
  db: Db,
  accountId: number,
  windows: NewCompletion["windows"],
): Promise<MyActionRow[]> {
  return await db<MyActionRow[]>`
    SELECT ${actionColumns(db)}, s.completions, s.last_at
    FROM actions x, ${limitBounds(db, windowParams(db, windows))}
    LEFT JOIN LATERAL (
      SELECT * FROM action_standing(${accountId}, x.id, bounds.since, bounds.until)
      WHERE x.limit_count IS NOT NULL OR x.cooldown_seconds IS NOT NULL
    ) AS s ON true
    WHERE x.retired_at IS NULL
    ORDER BY x.slug`;
}

/** A completion as stored, with its action's slug and current label, and when it was voided. */
export interface CompletionRow {
  id: number;
  slug: string;
  label: string;
  points_earned: number;
  completed_at: Date;
  voided_at: Date | null;
}

/** What `insertCompletions` wrote for one completion: the log row and the account's new totals. */
export interface Inserted extends CompletionRow {
  username: string;
  /** The account's revision (score_ledger.revision) after it. */
  revision: number;
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
 * Completes actions in one statement, which PostgreSQL runs as one transaction: for each
 * completion it checks that the account is active (holding it so until commit, against a
 * concurrent deletion) and that the action is active, claims the idempotency key, logs the
 * completion with the action's current point value and adds it to the ledger and to the
 * account's day, week and month — all of it, or nothing. The access token's session, when it
 * names one, must be live too: ending a session stops its tokens here without a query more.
 *
 * The account's completion in its current one-second window is counted first (an upsert, so
 * that racing completions of one account count one after the other, on every instance); past
 * `perSecond` (COMPLETIONS_PER_SECOND) nothing is written for it. A replay (its key is taken) is
 * not counted: a client retrying a lost answer keeps its budget (the key is looked up row by row,
 * OFFSET 0 as in `liveSession`). The key is claimed before anything is written (with the log
 * row's id drawn ahead), so that a request racing another with the same key waits for it and
 * then writes nothing. Foreign keys are checked at the end of the statement, once all rows exist.
 *
 * Then the action's rules (src/actions/rules.ts), for an action that has any: its limit in the
 * current window and its cooldown, counted in the account's row of `rule_standing` once the
 * upsert above holds the account's row (whoever held it before has committed by then). Most
 * often that row holds (same rules, same window) and the rules allow one more: one UPDATE for all
 * of them (`kept`), which PostgreSQL checks again against the row's latest version when another
 * transaction changed it meanwhile. Otherwise — no row, a row of other rules or of another
 * window, a refusal, or an idempotency key (a replay that waited for the request it repeats must
 * see that request's key, which this statement's snapshot does not) — `rule_take` decides, its
 * statements reading with snapshots of their own, counting again from the log when the row does
 * not hold. Both ask the SQL function `rules_allow`, where the rules' condition is stated once
 * (migrations/…_rules_allow.sql holds it and rule_take's current body). Racing completions of
 * one account are counted one after the other, exactly, on any number of instances. The attempts
 * are materialized first, so that each is judged once, never for a pair of rows a join would
 * discard. An attempt a rule refuses counts against the per-second limit and writes nothing else.
 *
 * The sessions are checked first, once per completion (`live`, materialized), and the accounts
 * then joined: without that fence, on an accounts table small or never analyzed, PostgreSQL
 * scanned every account and checked each completion's session against each of them (9,600
 * session lookups for 16 completions over 600 accounts, measured: a statement eight times
 * slower); a lookup by key per completion avoided that, but cost more than the join once the
 * table has statistics. (With both changes, 8 rounds of bench:compare at 256 accounts with a
 * rule, analyzed: 1.25 × the statement before them.)
 *
 * The action's row is held too (FOR SHARE), so that a change of it (its rules, its points, its
 * retirement) waits for the completions under way and the completions after it see it: a
 * statement that read the action before the change committed reads its new row once it may hold
 * it. A completion is judged by the action as it stands when it commits, never by rules already
 * changed (which would count it in no `rule_standing` row of the new rules).
 *
 * The completions must be of distinct accounts (one upsert cannot change a row twice); rows are
 * locked in account order, as every batch locks them, and an account's ledger row before its
 * period rows (day, month, week: as a void locks them). Answers, by index into `completions`, what
 * was written; a completion with no answer wrote nothing because its account, its session or its
 * action is not active, a limit or rule refused it or its key is taken (`completionObstacle`).
 * One failing completion (a total past the integer's range) fails them all: callers retry alone.
 */
export async function insertCompletions(
  db: Db,
  completions: readonly NewCompletion[],
  perSecond: number,
): Promise<Map<number, Inserted>> {
  // One array per column, a row per completion.
  const column = (of: (c: NewCompletion) => string | number | null) =>
    arrayLiteral(completions.map(of));
  const [accounts, sessions, slugs, keys] = [
    column((c) => c.accountId),
    column((c) => c.sessionId),
    column((c) => c.slug),
    column((c) => c.key),
  ];
  const ats = column((c) => c.at.toISOString());
  const [days, weeks, months] = (["day", "week", "month"] as const).map((period) =>
    column((c) => c.windows[period].startDate)
  );
  const rows = await db<(Inserted & { n: number })[]>`
    WITH input AS (
      SELECT * FROM unnest(
        ${accounts}::int[], ${sessions}::int[], ${slugs}::text[], ${keys}::text[],
        ${ats}::timestamptz[], ${days}::date[], ${weeks}::date[], ${months}::date[]
      ) WITH ORDINALITY AS i (account_id, session_id, slug, key, at, day, week, month, n)
    ), live AS MATERIALIZED (
      SELECT i.account_id FROM input i
      WHERE i.session_id IS NULL
         OR EXISTS (${liveSession(db, db`i.account_id`, db`i.session_id`)})
    ), account AS (
      SELECT a.id, a.username FROM live i JOIN accounts a ON a.id = i.account_id
      WHERE ${shown(db)}
      ORDER BY a.id
      FOR SHARE OF a
    ), action AS (
      SELECT i.account_id, x.id, x.label, x.point_value, x.limit_count, x.cooldown_seconds,
             x.rules_revision, bounds.since, bounds.until
      FROM input i JOIN actions x ON x.slug = i.slug AND x.retired_at IS NULL,
           ${limitBounds(db, { day: db`i.day`, week: db`i.week`, month: db`i.month` })}
      FOR SHARE OF x
    ), counted AS (
      INSERT INTO completion_rate AS r (account_id, window_start, completions)
      SELECT account.id, i.at, 1
      FROM input i JOIN account ON account.id = i.account_id
           JOIN action ON action.account_id = i.account_id
      WHERE i.key IS NULL OR NOT EXISTS (
        SELECT 1 FROM completion_idempotency_keys k
        WHERE k.account_id = i.account_id AND k.idempotency_key = i.key
        OFFSET 0)
      ORDER BY account.id
      ON CONFLICT (account_id) DO UPDATE
        SET window_start = CASE WHEN r.window_start > EXCLUDED.window_start - interval '1 second'
                                THEN r.window_start ELSE EXCLUDED.window_start END,
            completions = CASE WHEN r.window_start > EXCLUDED.window_start - interval '1 second'
                               THEN r.completions + 1 ELSE 1 END
        WHERE r.window_start <= EXCLUDED.window_start - interval '1 second'
           OR r.completions < ${perSecond}
      RETURNING account_id
    ), attempt AS MATERIALIZED (
      SELECT counted.account_id, action.id AS action_id, action.rules_revision, action.since,
             action.until, action.limit_count, action.cooldown_seconds, i.at, i.key
      FROM counted JOIN action ON action.account_id = counted.account_id
           JOIN input i ON i.account_id = counted.account_id
    ), kept AS (
      UPDATE rule_standing s
      SET completions = s.completions + 1, last_at = GREATEST(s.last_at, a.at)
      FROM attempt a
      WHERE a.key IS NULL AND (a.limit_count IS NOT NULL OR a.cooldown_seconds IS NOT NULL)
        AND s.account_id = a.account_id AND s.action_id = a.action_id
        AND s.rules_revision = a.rules_revision AND s.since IS NOT DISTINCT FROM a.since
        AND rules_allow(a.limit_count, a.cooldown_seconds, s.completions, s.last_at, a.at)
      RETURNING s.account_id
    ), allowed AS (
      SELECT account_id FROM kept
      UNION ALL
      SELECT account_id FROM attempt
      WHERE account_id NOT IN (SELECT account_id FROM kept)
        AND CASE WHEN limit_count IS NULL AND cooldown_seconds IS NULL THEN true
            ELSE rule_take(account_id, action_id, rules_revision, since, until, limit_count,
                           cooldown_seconds, at, key)
            END
    ), drawn AS (
      SELECT account_id, nextval(pg_get_serial_sequence('action_log', 'id'))::int AS id
      FROM allowed
    ), claimed AS (
      INSERT INTO completion_idempotency_keys (account_id, idempotency_key, action_log_id)
      SELECT drawn.account_id, i.key, drawn.id
      FROM drawn JOIN input i ON i.account_id = drawn.account_id
      WHERE i.key IS NOT NULL
      ORDER BY drawn.account_id
      ON CONFLICT DO NOTHING
      RETURNING account_id, action_log_id AS id
    ), go AS (
      SELECT account_id, id FROM claimed
      UNION ALL
      SELECT drawn.account_id, drawn.id
      FROM drawn JOIN input i ON i.account_id = drawn.account_id
      WHERE i.key IS NULL
    ), logged AS (
      INSERT INTO action_log (id, account_id, action_id, points_earned, completed_at)
      SELECT go.id, go.account_id, action.id, action.point_value, i.at
      FROM go JOIN action ON action.account_id = go.account_id
           JOIN input i ON i.account_id = go.account_id
      ORDER BY go.account_id
      RETURNING id, account_id, points_earned, completed_at
    ), ledger AS (
      INSERT INTO score_ledger AS s (account_id, total_points, revision)
      SELECT account_id, points_earned, 1 FROM logged
      ORDER BY account_id
      ON CONFLICT (account_id) DO UPDATE
        SET total_points = s.total_points + EXCLUDED.total_points, last_activity_at = NOW(),
            revision = s.revision + 1
      RETURNING account_id, total_points, revision
    ), periods AS (
      INSERT INTO period_scores AS p (period, starts_at, account_id, total_points)
      SELECT w.period, w.starts_at, logged.account_id, logged.points_earned
      FROM ledger JOIN logged ON logged.account_id = ledger.account_id
           JOIN input i ON i.account_id = logged.account_id,
           LATERAL (VALUES ('day', i.day), ('week', i.week), ('month', i.month))
             AS w (period, starts_at)
      ORDER BY logged.account_id, w.period
      ON CONFLICT (period, starts_at, account_id) DO UPDATE
        SET total_points = p.total_points + EXCLUDED.total_points
      RETURNING account_id, period, total_points
    )
    SELECT i.n::int, logged.id, i.slug, action.label, logged.points_earned, logged.completed_at,
           NULL::timestamptz AS voided_at,
           account.username, ledger.total_points, ledger.revision::float8 AS revision,
           (SELECT total_points FROM periods p
            WHERE p.account_id = logged.account_id AND p.period = 'day') AS day_points,
           (SELECT total_points FROM periods p
            WHERE p.account_id = logged.account_id AND p.period = 'week') AS week_points,
           (SELECT total_points FROM periods p
            WHERE p.account_id = logged.account_id AND p.period = 'month') AS month_points
    FROM logged JOIN input i ON i.account_id = logged.account_id
         JOIN ledger ON ledger.account_id = logged.account_id
         JOIN account ON account.id = logged.account_id
         JOIN action ON action.account_id = logged.account_id`;
  return new Map(rows.map(({ n, ...inserted }) => [n - 1, inserted]));
}

/** Why `insertCompletions` wrote nothing, in the order the API answers them. */
export type Obstacle =
  | { kind: "account" | "missing" | "retired" }
  | { kind: "rule"; retryAt: Date | null }
  | { kind: "limited"; retryAfterMs: number }
  | { kind: "replay"; original: CompletionRow };

/**
 * Finds out why a completion wrote nothing; an ended session is as gone as a deleted account. A
 * rule that refuses it now is named before the per-second limit: its answer says when to come
 * back, which the limit's second does not.
 */
export async function completionObstacle(
  db: Db,
  completion: Pick<NewCompletion, "accountId" | "sessionId" | "slug" | "key" | "at" | "windows">,
  perSecond: number,
): Promise<Obstacle> {
  const { accountId, sessionId, slug, key, at } = completion;
  const [row] = await db<
    ({
      active: boolean;
      window_ends: Date | null;
      rate: number;
      completions: number | null;
      last_at: Date | null;
    } & Partial<ActionRow>)[]
  >`
    SELECT EXISTS (SELECT 1 FROM accounts a WHERE id = ${accountId} AND ${shown(db)})
             AND (${sessionId}::int IS NULL OR EXISTS (${liveSession(db, accountId, sessionId)}))
             AS active,
           r.window_start + interval '1 second' AS window_ends, r.completions AS rate,
           x.*, s.completions, s.last_at
    FROM (SELECT 1) AS one
    LEFT JOIN completion_rate r ON r.account_id = ${accountId}
    LEFT JOIN LATERAL (
      SELECT ${actionColumns(db)}, bounds.since, bounds.until FROM actions x,
             ${limitBounds(db, windowParams(db, completion.windows))}
      WHERE x.slug = ${slug}
    ) AS x ON true
    LEFT JOIN LATERAL (
      SELECT * FROM action_standing(${accountId}, x.id, x.since, x.until)
      WHERE x.limit_count IS NOT NULL OR x.cooldown_seconds IS NOT NULL
    ) AS s ON true`;
  if (!row.active) return { kind: "account" };
  const original = key === null ? undefined : await completionByKey(db, accountId, key);
  if (original) return { kind: "replay", original };
  if (row.id === null) return { kind: "missing" };
  if (row.retired_at !== null) return { kind: "retired" };
  if (row.completions !== null) {
    const where = standing(rulesOf(row as ActionRow), {
      completions: row.completions,
      lastAt: row.last_at,
    }, at.getTime());
    if (!where.open) return { kind: "rule", retryAt: where.availableAt };
  }
  const retryAfterMs = (row.window_ends?.getTime() ?? 0) - at.getTime();
  if (row.rate >= perSecond && retryAfterMs > 0) return { kind: "limited", retryAfterMs };
  // The window turned between the two statements: the client may simply try again.
  return { kind: "limited", retryAfterMs: 1 };
}

/** The completion an account made with an idempotency key. */
export async function completionByKey(
  db: Db,
  accountId: number,
  key: string,
): Promise<CompletionRow | undefined> {
  const [row] = await db<CompletionRow[]>`
    SELECT l.id, a.slug, a.label, l.points_earned, l.completed_at, v.voided_at
    FROM completion_idempotency_keys k
    JOIN action_log l ON l.id = k.action_log_id
    JOIN actions a ON a.id = l.action_id
    LEFT JOIN completion_voids v ON v.action_log_id = l.id
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
    SELECT l.id, a.slug, a.label, l.points_earned, l.completed_at, v.voided_at
    FROM action_log l JOIN actions a ON a.id = l.action_id
    LEFT JOIN completion_voids v ON v.action_log_id = l.id
    WHERE l.account_id = ${accountId} AND (${before}::int IS NULL OR l.id < ${before}::int)
    ORDER BY l.id DESC
    LIMIT ${limit + 1}`;
}
