import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, writeConfig } from '../helpers/cli.js';
import { postgresAvailable, testSchema, type TestSchema } from '../helpers/postgres.js';

const available = await postgresAvailable();

/** What a migration could change, read from the catalogs: tables and columns, constraints, indexes, triggers, functions, the applied versions. */
async function catalog(db: TestSchema): Promise<unknown[]> {
  const q = async (sql: string) => (await db.query(sql, [db.schema])).rows;
  return [
    await q(`SELECT table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns WHERE table_schema = $1 ORDER BY 1, 2`),
    await q(`SELECT conrelid::regclass::text AS rel, conname, pg_get_constraintdef(c.oid) AS def FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = $1 ORDER BY 1, 2`),
    await q(`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY 1`),
    await q(`SELECT trigger_name, event_manipulation, action_statement FROM information_schema.triggers WHERE trigger_schema = $1 ORDER BY 1, 2`),
    await q(`SELECT p.proname, md5(p.prosrc) AS src FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY 1`),
    await q(`SELECT version, name, applied_at FROM "${db.schema}".schema_migrations WHERE $1 = $1 ORDER BY 1`),
  ];
}

test('throttlegate migrate creates the schema once; applied again it changes nothing', { skip: !available }, async (t) => {
  const db = await testSchema();
  t.after(() => db.drop());
  const file = writeConfig(`key_store:\n  type: postgres\n  postgres: { url: "${db.url}", schema: ${db.schema} }\nroutes:\n  - { path: /, upstream: "http://127.0.0.1:9" }\n`);
  const migrate = () => spawnSync(process.execPath, [CLI, 'migrate', '--config', file], { encoding: 'utf8', timeout: 30_000 });

  const first = migrate();
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`schema ${db.schema} at 127\\.0\\.0\\.1:5432/\\S+: applied 1 \\(now version 1\\)`));
  const before = await catalog(db);
  assert.ok((before[0] as unknown[]).length > 10, 'the tables exist');
  assert.equal((before[3] as unknown[]).length, 5, 'api_keys insert and update, api_key_secrets insert, update and delete notify');

  const second = migrate();
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /is up to date \(version 1\)/);
  assert.deepEqual(await catalog(db), before);
});

test('throttlegate migrate says why when the config has no postgres key store or the database refuses', { skip: !available }, async () => {
  const plain = writeConfig('routes:\n  - { path: /, upstream: "http://127.0.0.1:9" }\n');
  const off = spawnSync(process.execPath, [CLI, 'migrate', '--config', plain], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(off.status, 1);
  assert.match(off.stderr, /keeps its keys in the config file/);
  const wrong = writeConfig('key_store:\n  type: postgres\n  postgres: { url: "postgres://postgres:pw-not-shown@127.0.0.1:5432/no_such_database_tg" }\nroutes:\n  - { path: /, upstream: "http://127.0.0.1:9" }\n');
  const refused = spawnSync(process.execPath, [CLI, 'migrate', '--config', wrong], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /PostgreSQL at 127\.0\.0\.1:5432\/no_such_database_tg: database "no_such_database_tg" does not exist/);
  assert.doesNotMatch(refused.stderr + refused.stdout, /pw-not-shown/);
});
