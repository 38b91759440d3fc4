-- migrate:up
-- Sessions (API.md, "Accounts and sessions"): one sign-in and every refresh token rotated from it.
-- Access tokens name their session (`sid`), so ending a session here refuses them too.
CREATE TABLE sessions (
  id           SERIAL PRIMARY KEY,
  account_id   INTEGER NOT NULL REFERENCES accounts(id),
  created_at   TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  -- The last sign-in or refresh (not every request: that would be a write per request).
  last_used_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  -- When the newest refresh token of the session expires; past it the session is over.
  expires_at   TIMESTAMPTZ NOT NULL,
  ended_at     TIMESTAMPTZ
);
-- An account's live sessions: the list, "sign out everywhere", theft and password changes.
CREATE INDEX sessions_account_id_live ON sessions (account_id, created_at DESC)
  WHERE ended_at IS NULL;

-- The seed's columns stay as they are; each token gains its session and why it was revoked:
-- 'rotated' (a refresh used it: presented again within the reuse interval it still works),
-- 'signed-out' (POST /auth/logout with it: presenting it again is theft) or 'session-ended' (its
-- session was ended from elsewhere, so its holder may not know: presenting it is a plain 401).
ALTER TABLE refresh_tokens
  ADD COLUMN session_id INTEGER REFERENCES sessions(id),
  ADD COLUMN revoked_reason TEXT
    CHECK (revoked_reason IN ('rotated', 'signed-out', 'session-ended'));

-- Tokens issued before sessions existed get a session each (their chains cannot be told apart).
-- The ids are the tokens' own, the table being new; the sequence then continues after them.
INSERT INTO sessions (id, account_id, created_at, last_used_at, expires_at, ended_at)
SELECT id, account_id, created_at, created_at, expires_at, revoked_at FROM refresh_tokens;
SELECT setval(pg_get_serial_sequence('sessions', 'id'), COALESCE(max(id), 0) + 1, false)
FROM sessions;
-- Rotation and sign-out cannot be told apart either: both were theft when presented, and stay so.
UPDATE refresh_tokens
SET session_id = id,
    revoked_reason = CASE WHEN revoked_at IS NOT NULL THEN 'signed-out' END;

ALTER TABLE refresh_tokens
  ALTER COLUMN session_id SET NOT NULL,
  ADD CONSTRAINT refresh_tokens_revoked_reason_given
    CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL));
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- migrate:down
DROP INDEX refresh_tokens_session_id;
ALTER TABLE refresh_tokens
  DROP CONSTRAINT refresh_tokens_revoked_reason_given,
  DROP COLUMN revoked_reason,
  DROP COLUMN session_id;
DROP TABLE sessions;
