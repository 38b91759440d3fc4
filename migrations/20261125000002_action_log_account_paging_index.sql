-- migrate:up
-- GET /me/completions pages an account's log newest first by id: walk an index, never sort.
CREATE INDEX action_log_account_id_id ON action_log (account_id, id DESC);

-- migrate:down
DROP INDEX action_log_account_id_id;
