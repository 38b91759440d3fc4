-- migrate:up
-- accounts.updated_at is "updated via trigger" (DATA_MODEL.md): stamp it on every UPDATE.
CREATE FUNCTION accounts_set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := NOW();
  RETURN NEW;
END;
$$;

CREATE TRIGGER accounts_set_updated_at
  BEFORE UPDATE ON accounts
  FOR EACH ROW EXECUTE FUNCTION accounts_set_updated_at();

-- migrate:down
DROP TRIGGER accounts_set_updated_at ON accounts;
DROP FUNCTION accounts_set_updated_at();
