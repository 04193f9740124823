import type { ClientBase } from 'pg';
import { MIGRATIONS, type Migration } from './migrations.js';

/** `"name"`: a schema name the config schema restricted to [a-z0-9_], quoted all the same. */
export const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

export interface MigrateResult {
  /** Versions this call applied (empty: the schema was current). */
  readonly applied: readonly number[];
  /** The schema's version afterwards. */
  readonly version: number;
}

/**
 * Brings `schema` up to the newest migration, creating it if missing. One
 * transaction under an advisory lock: instances starting together apply each
 * migration once, the others wait and find nothing to do, and a failed
 * migration leaves the schema as it was.
 */
export async function migrate(client: ClientBase, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`throttlegate:migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${ident(schema)}`);
    await client.query(`SET LOCAL search_path TO ${ident(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration.version);
    }
    await client.query('COMMIT');
    return { applied, version: Math.max(0, ...done, ...applied) };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/** Whether `schema` already holds every migration (false when it or its schema_migrations table is missing). */
export async function isCurrent(client: ClientBase, schema: string, migrations: readonly Migration[] = MIGRATIONS): Promise<boolean> {
  try {
    const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${ident(schema)}.schema_migrations`);
    return (rows[0]?.version ?? 0) >= Math.max(0, ...migrations.map((m) => m.version));
  } catch {
    return false;
  }
}
