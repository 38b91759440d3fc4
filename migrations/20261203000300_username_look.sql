-- migrate:up
-- Usernames that look alike (API.md: a username that looks like a taken one is taken). A name's
-- key is its confusable skeleton (Unicode UTS #39), case-folded, computed by the service
-- (src/auth/usernames.ts): `paypal`, `PaypaI` and `PAYPAL` share one. New accounts get their key
-- as they are inserted; existing ones get theirs right after this migration, from the service's
-- migration step (src/db/username_keys.ts), oldest first. Where two existing names already share
-- a key, both accounts keep their names: the older holds the key, the newer gets its key with its
-- id appended (unique, and never equal to a name's key), and the step logs a warning naming both
-- accounts for an operator to judge. Until then the column is null (a unique index ignores
-- nulls): an instance of the previous release inserting during a rolling update leaves a null
-- that the next start fills in.
ALTER TABLE accounts ADD COLUMN username_key TEXT;
CREATE UNIQUE INDEX accounts_username_look ON accounts (username_key);
-- The step finds the accounts still without a key.
CREATE INDEX accounts_username_key_missing ON accounts (id) WHERE username_key IS NULL;

-- migrate:down
DROP INDEX accounts_username_key_missing;
DROP INDEX accounts_username_look;
ALTER TABLE accounts DROP COLUMN username_key;
