-- migrate:up
-- Period boards (API.md "Periods"): each account's points per UTC day, ISO week and month,
-- derived from action_log.completed_at and changed by the same statement as the ledger. The
-- log stays the truth: this table can be rebuilt from it (see the backfill below).
CREATE TABLE period_scores (
  period       TEXT    NOT NULL CHECK (period IN ('day', 'week', 'month')),
  starts_at    DATE    NOT NULL,
  account_id   INTEGER NOT NULL REFERENCES accounts(id),
  total_points INTEGER NOT NULL,
  PRIMARY KEY (period, starts_at, account_id)
);

-- A board in rank order, current or past: its top, a page, the accounts above a score.
CREATE INDEX period_scores_board ON period_scores (period, starts_at, total_points DESC, account_id);

-- The all-time board in rank order, for reads that PostgreSQL answers itself.
CREATE INDEX score_ledger_board ON score_ledger (total_points DESC, account_id);

-- Deleted accounts, few: counts of a board subtract theirs instead of joining every row.
CREATE INDEX accounts_deleted ON accounts (id) WHERE deleted_at IS NOT NULL;

INSERT INTO period_scores (period, starts_at, account_id, total_points)
SELECT period, starts_at, account_id, sum(points_earned)::int
FROM (
  SELECT 'day' AS period, (completed_at AT TIME ZONE 'UTC')::date AS starts_at,
         account_id, points_earned
  FROM action_log
  UNION ALL
  SELECT 'week', date_trunc('week', completed_at AT TIME ZONE 'UTC')::date, account_id, points_earned
  FROM action_log
  UNION ALL
  SELECT 'month', date_trunc('month', completed_at AT TIME ZONE 'UTC')::date, account_id,
         points_earned
  FROM action_log
) AS completions
GROUP BY period, starts_at, account_id;

-- migrate:down
DROP INDEX accounts_deleted;
DROP INDEX score_ledger_board;
DROP TABLE period_scores;
