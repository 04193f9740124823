/**
 * `node --expose-gc dist-test/bench/keys-load.js` (after `tsc -p tsconfig.json`):
 * what a gateway with key_store postgres pays at start for BENCH_KEYS keys
 * (default 100,000) in the PostgreSQL at TEST_DATABASE_URL (else the local
 * one). Seeds a schema of its own, then for 3 rounds starts a fresh
 * PostgresKeyStore and times construction to whenLoaded(), with the heap it
 * holds afterwards (all it keeps reachable, its pg pool's connections
 * included); then, apart, the load query and KeyTable.replaceAll on its rows,
 * and the heap the table alone holds (the rows dropped). Targets: load under
 * 2 s, at most 30 MB held. The schema is dropped at the end, also on failure
 * or Ctrl-C.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createLogger } from '../src/observability/logging.js';
import { whereOf, type PostgresKeyStoreConfig } from '../src/keys/config.js';
import { migrate, ident } from '../src/keys/migrate.js';
import { PostgresKeyStore } from '../src/keys/store.js';
import { KeyTable } from '../src/keys/table.js';
import { f0, f1, spread, type Spread, type Verdict } from './stats.js';
import { intEnv } from './env.js';

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const KEYS = intEnv('BENCH_KEYS', 100_000);
const ROUNDS = 3;
const LOAD_TARGET_MS = 2_000;
const HEAP_TARGET_MB = 30;
const MB = 1024 * 1024;

interface Round {
  readonly loadMs: number;
  readonly storeHeapMb: number;
  readonly queryMs: number;
  readonly buildMs: number;
  readonly tableHeapMb: number;
}


const gc = (globalThis as { gc?: () => void }).gc;

/**
 * heapUsed after full collections, so what is measured is what is held, not
 * garbage not yet swept; a few turns between them let closed sockets and the
 * previous round's store let go of what they held.
 */
async function heldHeap(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return process.memoryUsage().heapUsed;
}

/** Key i is the text `key-i`, id `ki`, plans alternating; digests computed by PostgreSQL, so seeding 100k keys takes a second. */
async function seed(client: pg.Client, schema: string, keys: number): Promise<void> {
  const s = ident(schema);
  await client.query('BEGIN');
  // The row triggers would queue one NOTIFY per row (two per key) for listeners that do not exist yet.
  await client.query(`ALTER TABLE ${s}.api_keys DISABLE TRIGGER USER`);
  await client.query(`ALTER TABLE ${s}.api_key_secrets DISABLE TRIGGER USER`);
  await client.query(`INSERT INTO ${s}.api_keys (id, plan) SELECT 'k' || i, CASE WHEN i % 2 = 0 THEN 'free' ELSE 'pro' END FROM generate_series(1, $1::int) AS i`, [keys]);
  await client.query(`INSERT INTO ${s}.api_key_secrets (digest, key_id, prefix) SELECT sha256(('key-' || i)::bytea), 'k' || i, 'tg_xxxxx' FROM generate_series(1, $1::int) AS i`, [keys]);
  await client.query(`ALTER TABLE ${s}.api_keys ENABLE TRIGGER USER`);
  await client.query(`ALTER TABLE ${s}.api_key_secrets ENABLE TRIGGER USER`);
  await client.query('COMMIT');
  await client.query(`ANALYZE ${s}.api_keys`);
  await client.query(`ANALYZE ${s}.api_key_secrets`);
}

async function measureRound(config: PostgresKeyStoreConfig): Promise<Round> {
  const logger = createLogger('warn', pino.destination({ fd: 2, sync: true }));
  const before = await heldHeap();
  const started = performance.now();
  const store = new PostgresKeyStore(config, logger, new Registry());
  try {
    store.start();
    await store.whenLoaded();
    const loadMs = performance.now() - started;
    const storeHeapMb = ((await heldHeap()) - before) / MB;
    const found = store.table.lookup('key-42', Date.now());
    if (KEYS >= 42 && (typeof found !== 'object' || found.id !== 'k42')) throw new Error(`key-42 should resolve to k42, got ${JSON.stringify(found)}`);
    if (store.table.size !== KEYS) throw new Error(`the store loaded ${store.table.size} keys, expected ${KEYS}`);

    // The same load in its two halves, into a table of our own: the rows are dropped before the table is weighed.
    const beforeTable = await heldHeap();
    let queryStarted = performance.now();
    // On a connection of its own, as the store loads on its listener (a pooled connection's first result stays reachable).
    const own = new pg.Client({ connectionString: config.url });
    await own.connect();
    let rows: Awaited<ReturnType<typeof store.repository.loadAll>> | undefined = await store.repository.loadAll(own).finally(() => own.end());
    const queryMs = performance.now() - queryStarted;
    const table = new KeyTable();
    queryStarted = performance.now();
    table.replaceAll(rows);
    const buildMs = performance.now() - queryStarted;
    rows = undefined;
    const tableHeapMb = ((await heldHeap()) - beforeTable) / MB;
    if (table.size !== KEYS) throw new Error(`the table holds ${table.size} keys, expected ${KEYS}`);
    return { loadMs, storeHeapMb, queryMs, buildMs, tableHeapMb };
  } finally {
    await store.close();
  }
}

/** PASS or FAIL only when every round lands on one side of the target (stats.ts's rule), else NOISE. */
function verdict(s: Spread, target: number): Verdict {
  if (s.max <= target) return 'PASS';
  if (s.min > target) return 'FAIL';
  return 'NOISE';
}

function report(rounds: readonly Round[]): boolean {
  const cell = (r: Round) => [f0(r.loadMs), f0(r.queryMs), f0(r.buildMs), f1(r.storeHeapMb), f1(r.tableHeapMb)];
  const median = (pick: (r: Round) => number) => spread(rounds.map(pick)).median;
  console.log(`\n### Key store load: ${KEYS} keys, PostgreSQL at ${whereOf(DATABASE_URL)}, Node ${process.version}\n`);
  console.log('| round | load ms (total) | query ms | table build ms | heap MB held by the store | heap MB held by the table |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  rounds.forEach((r, i) => console.log(`| ${i + 1} | ${cell(r).join(' | ')} |`));
  const medians: Round = { loadMs: median((r) => r.loadMs), queryMs: median((r) => r.queryMs), buildMs: median((r) => r.buildMs), storeHeapMb: median((r) => r.storeHeapMb), tableHeapMb: median((r) => r.tableHeapMb) };
  console.log(`| median | ${cell(medians).join(' | ')} |\n`);
  const load = verdict(spread(rounds.map((r) => r.loadMs)), LOAD_TARGET_MS);
  // What a gateway pays is what the store holds: the table plus its pool and listener.
  const heap = verdict(spread(rounds.map((r) => r.storeHeapMb)), HEAP_TARGET_MB);
  console.log(`${load}: load (construction to whenLoaded) median ${f0(medians.loadMs)} ms, target under ${LOAD_TARGET_MS} ms`);
  console.log(`${heap}: heap held by the store median ${f1(medians.storeHeapMb)} MB, target at most ${HEAP_TARGET_MB} MB`);
  return load === 'PASS' && heap === 'PASS';
}

async function main(): Promise<void> {
  if (gc === undefined) console.error('note: global.gc is not exposed (run node --expose-gc): heap figures include uncollected garbage');
  const schema = `tg_bench_${randomBytes(6).toString('hex')}`;
  // Ctrl-C skips the finally below: the schema (100k keys) would stay behind.
  process.once('SIGINT', () => void dropSchema(schema).finally(() => process.exit(130)));
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  try {
    await migrate(admin, schema);
    const seeded = performance.now();
    await seed(admin, schema, KEYS);
    console.error(`seeded ${KEYS} keys into ${schema} in ${f0(performance.now() - seeded)} ms`);
    const config: PostgresKeyStoreConfig = { url: DATABASE_URL, where: whereOf(DATABASE_URL), schema, startupTimeoutMs: 60_000, resyncIntervalMs: 3_600_000 };
    const rounds: Round[] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push(await measureRound(config));
    if (!report(rounds)) process.exitCode = 1;
  } finally {
    await admin.end();
    await dropSchema(schema);
  }
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
  } catch (err) {
    console.error(`could not drop schema ${schema}: ${String(err)}`);
  } finally {
    await client.end().catch(() => {});
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
