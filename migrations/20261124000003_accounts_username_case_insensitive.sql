-- migrate:up
-- Usernames are unique case-insensitively (API.md): "Alice" and "alice" cannot both exist.
CREATE UNIQUE INDEX accounts_username_lower_key ON accounts (lower(username));

-- migrate:down
DROP INDEX accounts_username_lower_key;
