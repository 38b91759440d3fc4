-- migrate:up
-- The per-account completion limit (COMPLETIONS_PER_SECOND), kept where completions are made: the
-- completion statement counts in the same round trip, exactly across instances (the upsert waits
-- for a racing one and reads its count), with or without Redis. A window lasts one second from
-- the first completion in it.
CREATE TABLE completion_rate (
  account_id   INTEGER PRIMARY KEY REFERENCES accounts(id),
  window_start TIMESTAMPTZ NOT NULL,
  completions  INTEGER NOT NULL
);

-- migrate:down
DROP TABLE completion_rate;
