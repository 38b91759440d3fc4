-- migrate:up
-- What a ruled action's rules are checked against, kept per account and action: its standing
-- completions in one window of the limit (or ever) and its latest. A completion reads and adds to
-- this row rather than counting the log, which would cost as much more as the window holds
-- completions (a thousand a day: a thousand index entries per completion).
--
-- A row holds for the action's rules_revision it was written under and the window starting at
-- `since` (null: ever, or no limit); any other is counted again from the log (action_standing)
-- and written anew. Every change of an action's rules adds one to its rules_revision: the
-- completions of an action without rules keep no row, so that one set up again counts afresh. A
-- void deletes the row of its account and action. Only the holder of the account's
-- completion_rate row writes or deletes it (a completion, after its per-second upsert; a void,
-- which takes that row first), so that reads and writes of one account follow one another.
ALTER TABLE actions ADD COLUMN rules_revision INTEGER NOT NULL DEFAULT 0;

CREATE TABLE rule_standing (
  account_id     INTEGER NOT NULL REFERENCES accounts(id),
  action_id      INTEGER NOT NULL REFERENCES actions(id),
  rules_revision INTEGER NOT NULL,
  since          TIMESTAMPTZ,
  completions    INTEGER NOT NULL,
  last_at        TIMESTAMPTZ,
  PRIMARY KEY (account_id, action_id)
);

-- Whether the account may complete the ruled action at p_at — its limit of p_limit completions
-- in [p_since, p_until) (none when p_limit is null) and its cooldown of p_cooldown seconds (none
-- when null) — and if so, the completion counted in rule_standing. False, with nothing written,
-- when a rule refuses it or when p_key is taken: a replay that waited for the request it repeats,
-- which the caller's snapshot, taken before it waited, does not show. VOLATILE: each statement
-- here reads with a snapshot of its own, taken once the caller holds the account's completion_rate
-- row, so it sees what whoever held that row before committed.
CREATE FUNCTION rule_take(
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

-- migrate:down
DROP FUNCTION rule_take(integer, integer, integer, timestamptz, timestamptz, integer, integer,
                        timestamptz, text);
DROP TABLE rule_standing;
ALTER TABLE actions DROP COLUMN rules_revision;
