-- migrate:up
-- Moderation and audit (API.md "Moderation and audit"). Suspension: while suspended_at is set,
-- the account is off every board and cannot sign in; suspension_until (null: until lifted) is
-- when an instance reinstates it. The seed's columns stay as they are.
ALTER TABLE accounts
  ADD COLUMN suspended_at TIMESTAMPTZ,
  ADD COLUMN suspension_until TIMESTAMPTZ,
  ADD COLUMN suspension_reason TEXT,
  ADD CONSTRAINT accounts_suspension_whole
    CHECK ((suspended_at IS NULL) = (suspension_reason IS NULL)
           AND (suspension_until IS NULL OR suspended_at IS NOT NULL));

-- Accounts off the boards, deleted or suspended: few, so that counts subtract theirs.
CREATE INDEX accounts_hidden ON accounts (id)
  WHERE deleted_at IS NOT NULL OR suspended_at IS NOT NULL;
-- Suspensions that end by themselves, for the instances that reinstate them.
CREATE INDEX accounts_suspension_until ON accounts (suspension_until)
  WHERE suspension_until IS NOT NULL;
-- Operators find accounts by the start of a username or an email.
CREATE INDEX accounts_username_prefix ON accounts (lower(username) text_pattern_ops);
CREATE INDEX accounts_email_prefix ON accounts (email text_pattern_ops);

-- Voids: a completion whose points were taken back. The log row stays as it was written; the
-- account, action and time are copied here so that counts of standing completions subtract the
-- few voided ones through an index of their own.
CREATE TABLE completion_voids (
  action_log_id INTEGER PRIMARY KEY REFERENCES action_log(id),
  account_id    INTEGER NOT NULL REFERENCES accounts(id),
  action_id     INTEGER NOT NULL REFERENCES actions(id),
  completed_at  TIMESTAMPTZ NOT NULL,
  voided_at     TIMESTAMPTZ NOT NULL,
  reason        TEXT NOT NULL
);
CREATE INDEX completion_voids_standing ON completion_voids (account_id, action_id, completed_at);

-- The revision of an account's place on the boards: one more with every change of its totals
-- (a completion, a void) or of whether it is shown (a suspension, a reinstatement, a deletion).
-- The Redis copy applies an account's state only when its revision is newer than the one it holds,
-- so that changes that race reach it in any order and it still ends equal to PostgreSQL.
ALTER TABLE score_ledger ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;

-- The audit trail: every operator change, kept for good, written by the change's transaction.
CREATE TABLE audit_log (
  id         BIGSERIAL PRIMARY KEY,
  at         TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  action     TEXT NOT NULL CHECK (action IN ('action.created', 'action.updated', 'action.retired',
                                            'account.suspended', 'account.reinstated',
                                            'completion.voided')),
  target     TEXT NOT NULL,
  detail     JSONB NOT NULL,
  request_id TEXT,
  client     TEXT
);
CREATE INDEX audit_log_target ON audit_log (target, id DESC);

-- Rules count the completions that stand: voided ones are left out.
CREATE OR REPLACE FUNCTION action_standing(
  p_account integer, p_action integer, p_since timestamptz, p_until timestamptz,
  OUT completions integer, OUT last_at timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  SELECT count(*)::int INTO completions FROM action_log
  WHERE account_id = p_account AND action_id = p_action
    AND completed_at >= COALESCE(p_since, '-infinity')
    AND completed_at < COALESCE(p_until, 'infinity');
  completions := completions - (
    SELECT count(*)::int FROM completion_voids
    WHERE account_id = p_account AND action_id = p_action
      AND completed_at >= COALESCE(p_since, '-infinity')
      AND completed_at < COALESCE(p_until, 'infinity'));
  SELECT l.completed_at INTO last_at FROM action_log l
  WHERE l.account_id = p_account AND l.action_id = p_action
    AND NOT EXISTS (SELECT 1 FROM completion_voids v WHERE v.action_log_id = l.id)
  ORDER BY l.completed_at DESC
  LIMIT 1;
END
$$;

-- migrate:down
CREATE OR REPLACE FUNCTION action_standing(
  p_account integer, p_action integer, p_since timestamptz, p_until timestamptz,
  OUT completions integer, OUT last_at timestamptz
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  SELECT count(*)::int INTO completions FROM action_log
  WHERE account_id = p_account AND action_id = p_action
    AND completed_at >= COALESCE(p_since, '-infinity')
    AND completed_at < COALESCE(p_until, 'infinity');
  SELECT max(completed_at) INTO last_at FROM action_log
  WHERE account_id = p_account AND action_id = p_action;
END
$$;
DROP TABLE audit_log;
ALTER TABLE score_ledger DROP COLUMN revision;
DROP TABLE completion_voids;
DROP INDEX accounts_email_prefix;
DROP INDEX accounts_username_prefix;
DROP INDEX accounts_suspension_until;
DROP INDEX accounts_hidden;
ALTER TABLE accounts
  DROP CONSTRAINT accounts_suspension_whole,
  DROP COLUMN suspension_reason,
  DROP COLUMN suspension_until,
  DROP COLUMN suspended_at;
