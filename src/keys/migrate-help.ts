/** `throttlegate migrate --help` (apart from the command, so the CLI loads pg only to run it). */
export const MIGRATE_HELP = `Usage: throttlegate migrate [--config FILE]

Creates or updates the key store's tables in PostgreSQL (key_store.type postgres):
the versioned migrations not yet applied to key_store.postgres.schema, in one
transaction. The gateway applies them itself when it starts; this is for running
them ahead of a rollout. Applying them twice changes nothing.
  --config FILE  config file (default: $THROTTLEGATE_CONFIG, else configs/config.yaml)
Exits 0, or 1 when the config has no postgres key store or the database refuses.`;
