-- migrate:up
-- The Idempotency-Key a completion was made with (API.md): unique per account, so that a retried
-- or racing request with the same key finds the first one's completion instead of earning again.
-- A table of its own: the seed's action_log stays as written.
CREATE TABLE completion_idempotency_keys (
  account_id      INTEGER NOT NULL REFERENCES accounts(id),
  idempotency_key VARCHAR(200) NOT NULL,
  action_log_id   INTEGER NOT NULL UNIQUE REFERENCES action_log(id),
  created_at      TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  PRIMARY KEY (account_id, idempotency_key)
);

-- migrate:down
DROP TABLE completion_idempotency_keys;
