-- migrate:up
-- The rules' condition, stated once in SQL: whether an action's rules — a limit of p_limit
-- completions in a window (none when null) and a cooldown of p_cooldown seconds (none when null) —
-- allow one more completion at p_at by an account with p_completions standing completions in the
-- limit's current window, the latest at p_last_at (null: none). The completion statement's
-- one-UPDATE path (`kept`, src/actions/queries.ts) and rule_take both ask it, where each stated it
-- before; src/actions/rules.ts `standing` says the same for the answers (remaining, availableAt).
-- A single SELECT with no FROM: PostgreSQL inlines it where it is called, as if written there.
-- STABLE, not IMMUTABLE: adding an interval to a timestamptz is only STABLE.
CREATE FUNCTION rules_allow(
  p_limit integer, p_cooldown integer, p_completions integer, p_last_at timestamptz,
  p_at timestamptz
) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT (p_limit IS NULL OR p_completions < p_limit)
     AND (p_cooldown IS NULL OR p_last_at IS NULL
          OR p_at >= p_last_at + p_cooldown * interval '1 second')
$$;

-- rule_take as before (migrations/20261203000400_rule_standing.sql), asking rules_allow.
CREATE OR REPLACE FUNCTION rule_take(
  p_account integer, p_action integer, p_revision integer, p_since timestamptz,
  p_until timestamptz, p_limit integer, p_cooldown integer, p_at timestamptz, p_key text
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  kept rule_standing%ROWTYPE;
  counted integer;
  latest timestamptz;
BEGIN
  IF p_key IS NOT NULL AND EXISTS (
    SELECT 1 FROM completion_idempotency_keys
    WHERE account_id = p_account AND idempotency_key = p_key
  ) THEN
    RETURN false;
  END IF;
  -- Most often: the row holds, and the rules allow one more.
  UPDATE rule_standing
  SET completions = completions + 1, last_at = GREATEST(last_at, p_at)
  WHERE account_id = p_account AND action_id = p_action
    AND rules_revision = p_revision AND since IS NOT DISTINCT FROM p_since
    AND rules_allow(p_limit, p_cooldown, completions, last_at, p_at);
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT * INTO kept FROM rule_standing WHERE account_id = p_account AND action_id = p_action;
  IF FOUND AND kept.rules_revision = p_revision AND kept.since IS NOT DISTINCT FROM p_since THEN
    counted := kept.completions;
    latest := kept.last_at;
  ELSIF p_limit IS NULL THEN
    -- A cooldown alone: the latest only (an empty window counts nothing, through the index).
    SELECT s.last_at INTO latest FROM action_standing(p_account, p_action, 'infinity', NULL) s;
    counted := 0;
  ELSE
    SELECT s.completions, s.last_at INTO counted, latest
    FROM action_standing(p_account, p_action, p_since, p_until) s;
  END IF;
  IF NOT rules_allow(p_limit, p_cooldown, counted, latest, p_at) THEN
    RETURN false;
  END IF;
  INSERT INTO rule_standing (account_id, action_id, rules_revision, since, completions, last_at)
  VALUES (p_account, p_action, p_revision, p_since, counted + 1, GREATEST(latest, p_at))
  ON CONFLICT (account_id, action_id) DO UPDATE
    SET rules_revision = EXCLUDED.rules_revision, since = EXCLUDED.since,
        completions = EXCLUDED.completions, last_at = EXCLUDED.last_at;
  RETURN true;
END
$$;

-- migrate:down
-- rule_take as 20261203000400_rule_standing.sql wrote it.
CREATE OR REPLACE FUNCTION rule_take(
  p_account integer, p_action integer, p_revision integer, p_since timestamptz,
  p_until timestamptz, p_limit integer, p_cooldown integer, p_at timestamptz, p_key text
) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  kept rule_standing%ROWTYPE;
  counted integer;
  latest timestamptz;
BEGIN
  IF p_key IS NOT NULL AND EXISTS (
    SELECT 1 FROM completion_idempotency_keys
    WHERE account_id = p_account AND idempotency_key = p_key
  ) THEN
    RETURN false;
  END IF;
  -- Most often: the row holds, and the rules allow one more.
  UPDATE rule_standing
  SET completions = completions + 1, last_at = GREATEST(last_at, p_at)
  WHERE account_id = p_account AND action_id = p_action
    AND rules_revision = p_revision AND since IS NOT DISTINCT FROM p_since
    AND (p_limit IS NULL OR completions < p_limit)
    AND (p_cooldown IS NULL OR last_at IS NULL
         OR p_at >= last_at + p_cooldown * interval '1 second');
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT * INTO kept FROM rule_standing WHERE account_id = p_account AND action_id = p_action;
  IF FOUND AND kept.rules_revision = p_revision AND kept.since IS NOT DISTINCT FROM p_since THEN
    counted := kept.completions;
    latest := kept.last_at;
  ELSIF p_limit IS NULL THEN
    -- A cooldown alone: the latest only (an empty window counts nothing, through the index).
    SELECT s.last_at INTO latest FROM action_standing(p_account, p_action, 'infinity', NULL) s;
    counted := 0;
  ELSE
    SELECT s.completions, s.last_at INTO counted, latest
    FROM action_standing(p_account, p_action, p_since, p_until) s;
  END IF;
  IF (p_limit IS NOT NULL AND counted >= p_limit)
     OR (p_cooldown IS NOT NULL AND latest IS NOT NULL
         AND p_at < latest + p_cooldown * interval '1 second') THEN
    RETURN false;
  END IF;
  INSERT INTO rule_standing (account_id, action_id, rules_revision, since, completions, last_at)
  VALUES (p_account, p_action, p_revision, p_since, counted + 1, GREATEST(latest, p_at))
  ON CONFLICT (account_id, action_id) DO UPDATE
    SET rules_revision = EXCLUDED.rules_revision, since = EXCLUDED.since,
        completions = EXCLUDED.completions, last_at = EXCLUDED.last_at;
  RETURN true;
END
$$;

DROP FUNCTION rules_allow(integer, integer, integer, timestamptz, timestamptz);
