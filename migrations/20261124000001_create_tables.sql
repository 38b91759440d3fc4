-- migrate:up
-- The five tables of shared/DATA_MODEL.md, exactly as written there.
CREATE TABLE accounts (
  id            SERIAL PRIMARY KEY,
  username      VARCHAR(100) NOT NULL UNIQUE,
  email         VARCHAR(255) NOT NULL UNIQUE,
  password_hash TEXT NOT NULL,
  created_at    TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  updated_at    TIMESTAMPTZ,
  deleted_at    TIMESTAMPTZ
);

CREATE TABLE actions (
  id          SERIAL PRIMARY KEY,
  slug        VARCHAR(100) NOT NULL UNIQUE,
  label       VARCHAR(255) NOT NULL,
  point_value INTEGER NOT NULL CHECK (point_value > 0),
  created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  retired_at  TIMESTAMPTZ
);

CREATE TABLE action_log (
  id            SERIAL PRIMARY KEY,
  account_id    INTEGER NOT NULL REFERENCES accounts(id),
  action_id     INTEGER NOT NULL REFERENCES actions(id),
  points_earned INTEGER NOT NULL,
  completed_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX ON action_log (account_id);

CREATE TABLE score_ledger (
  account_id       INTEGER PRIMARY KEY REFERENCES accounts(id),
  total_points     INTEGER NOT NULL DEFAULT 0,
  last_activity_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);

CREATE TABLE refresh_tokens (
  id          SERIAL PRIMARY KEY,
  account_id  INTEGER NOT NULL REFERENCES accounts(id),
  token_hash  TEXT NOT NULL UNIQUE,
  expires_at  TIMESTAMPTZ NOT NULL,
  revoked_at  TIMESTAMPTZ,
  created_at  TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX ON refresh_tokens (account_id);

-- migrate:down
DROP TABLE refresh_tokens;
DROP TABLE score_ledger;
DROP TABLE action_log;
DROP TABLE actions;
DROP TABLE accounts;
