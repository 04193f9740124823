/**
 * The key store's schema, as versioned SQL. Each migration runs once, in
 * order, inside the transaction that records it in schema_migrations
 * (migrate.ts), with search_path set to the configured schema, so the SQL
 * names no schema. Migrations only ever add: a new version never drops or
 * rewrites what an older gateway still reads.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'api_keys',
    sql: `
-- One row per key id: what a key is allowed (plan) and whether it still is (state, expires_at).
-- Revoked keys stay: the id is never reused, and every instance keeps refusing them.
CREATE TABLE api_keys (
  id           text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._:-]{1,64}$'),
  plan         text NOT NULL,
  state        text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled', 'revoked')),
  note         text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz
);
CREATE INDEX api_keys_plan_state ON api_keys (plan, state);

-- The secrets of a key id, as SHA-256 digests only: one current, plus those a rotation retires at retires_at.
-- prefix is the key's first 8 characters (tg_ and five more), what listings show.
CREATE TABLE api_key_secrets (
  digest     bytea PRIMARY KEY CHECK (octet_length(digest) = 32),
  key_id     text NOT NULL REFERENCES api_keys (id),
  prefix     text NOT NULL CHECK (char_length(prefix) <= 8),
  created_at timestamptz NOT NULL DEFAULT now(),
  retires_at timestamptz
);
CREATE INDEX api_key_secrets_key_id ON api_key_secrets (key_id);

-- Requests per key per minute, summed over instances (each adds its own counts, at most once a minute).
CREATE TABLE api_key_usage (
  key_id   text NOT NULL REFERENCES api_keys (id),
  minute   timestamptz NOT NULL,
  requests bigint NOT NULL CHECK (requests >= 0),
  PRIMARY KEY (key_id, minute)
);

-- Every change that decides whether a key works tells every instance which id to reload.
-- The payload is schema:id, never a key or a digest. Usage writes (last_used_at) notify nobody.
CREATE FUNCTION notify_api_key_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed jsonb;
BEGIN
  IF TG_OP = 'DELETE' THEN changed := to_jsonb(OLD); ELSE changed := to_jsonb(NEW); END IF;
  PERFORM pg_notify('throttlegate_keys', TG_TABLE_SCHEMA || ':' || (changed ->> TG_ARGV[0]));
  RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_inserted AFTER INSERT ON api_keys
  FOR EACH ROW EXECUTE FUNCTION notify_api_key_change('id');
CREATE TRIGGER api_keys_changed AFTER UPDATE ON api_keys
  FOR EACH ROW WHEN (OLD.plan IS DISTINCT FROM NEW.plan OR OLD.state IS DISTINCT FROM NEW.state OR OLD.expires_at IS DISTINCT FROM NEW.expires_at)
  EXECUTE FUNCTION notify_api_key_change('id');
CREATE TRIGGER api_key_secrets_changed AFTER INSERT OR UPDATE OR DELETE ON api_key_secrets
  FOR EACH ROW EXECUTE FUNCTION notify_api_key_change('key_id');
`,
  },
];

/** The channel every instance LISTENs on; payloads are `<schema>:<key id>`. */
export const NOTIFY_CHANNEL = 'throttlegate_keys';
