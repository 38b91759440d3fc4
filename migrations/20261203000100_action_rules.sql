-- migrate:up
-- Rules of an action (API.md "Actions"): at most limit_count completions per account in each
-- limit_per window (the boards' UTC day, ISO week and month, or ever), and at least
-- cooldown_seconds between two completions of it by one account. Existing actions get none.
ALTER TABLE actions
  ADD COLUMN limit_count INTEGER CHECK (limit_count BETWEEN 1 AND 1000),
  ADD COLUMN limit_per TEXT CHECK (limit_per IN ('day', 'week', 'month', 'ever')),
  ADD COLUMN cooldown_seconds INTEGER CHECK (cooldown_seconds BETWEEN 1 AND 2592000),
  ADD CONSTRAINT actions_limit_whole CHECK ((limit_count IS NULL) = (limit_per IS NULL));

-- An account's completions of one action: counted in a window (or ever), and the latest. (IF NOT
-- EXISTS: on a large log an operator may build it CONCURRENTLY beforehand; see the README.)
CREATE INDEX IF NOT EXISTS action_log_account_action_time ON action_log (account_id, action_id, completed_at);

-- How many of an account's completions of an action fall in [since, until) (unbounded where
-- null), and when the latest was made — as PostgreSQL has them when it is called. VOLATILE, so
-- that each call reads with a snapshot of its own: the completion statement calls it once it
-- holds the account's completion_rate row, and so sees every completion committed by whoever held
-- that row before (a subquery, or a STABLE function, would read the statement's own snapshot,
-- taken before it waited). PL/pgSQL: an SQL function could be inlined into the statement.
CREATE FUNCTION action_standing(
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

-- migrate:down
DROP FUNCTION action_standing(integer, integer, timestamptz, timestamptz);
DROP INDEX action_log_account_action_time;
ALTER TABLE actions
  DROP CONSTRAINT actions_limit_whole,
  DROP COLUMN cooldown_seconds,
  DROP COLUMN limit_per,
  DROP COLUMN limit_count;
