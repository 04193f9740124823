import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { freePort } from './redis.js';

/** The machine's PostgreSQL (trust auth on 127.0.0.1:5432), or TEST_DATABASE_URL. */
export const SHARED_PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Whether PostgreSQL tests can run. Outside CI an unreachable server skips
 * them with a loud message; in CI (CI=true) it fails, since .ci/run starts
 * the server (scripts/postgres.sh).
 */
export async function postgresAvailable(url = SHARED_PG_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (err) {
    if (process.env.CI) throw new Error(`PostgreSQL at ${url} is unreachable (${(err as Error).message}), and key store tests must run in CI`, { cause: err });
    console.error(`\n*** PostgreSQL unreachable at ${url}: SKIPPING key store tests (run scripts/postgres.sh) ***\n`);
    return false;
  }
}

/** A schema of the test's own in the shared server: a fresh name, dropped (with everything in it) by drop(). */
export interface TestSchema {
  readonly url: string;
  readonly schema: string;
  query<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<pg.QueryResult<T>>;
  drop(): Promise<void>;
}

export async function testSchema(url = SHARED_PG_URL): Promise<TestSchema> {
  const schema = `tg_test_${randomBytes(6).toString('hex')}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => {});
  return {
    url,
    schema,
    query: (text, values) => pool.query(text, values),
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => {});
      await pool.end();
    },
  };
}

/** A PostgreSQL server the test owns (initdb in a temporary folder, its own port), so it can stop and restart it. */
export interface PostgresProcess {
  readonly url: string;
  readonly port: number;
  /** `pg_ctl stop -m immediate`: connections cut at once, as a crash would. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  return undefined;
}

/** initdb refuses root: as root the server runs as the postgres user. */
function asServerUser(command: string, args: string[]): ReturnType<typeof spawnSync> {
  const root = process.getuid?.() === 0;
  return root
    ? spawnSync('setpriv', ['--reuid=postgres', '--regid=postgres', '--clear-groups', command, ...args], { encoding: 'utf8' })
    : spawnSync(command, args, { encoding: 'utf8' });
}

export async function startPostgres(): Promise<PostgresProcess> {
  const bin = binDir();
  if (bin === undefined) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'tg-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  if (process.getuid?.() === 0) spawnSync('chown', ['postgres:postgres', dir]);
  const init = asServerUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb failed:\n${String(init.stdout)}\n${String(init.stderr)}`);
  const ctl = (args: string[]) => asServerUser(join(bin, 'pg_ctl'), ['-D', data, ...args]);
  const start = async () => {
    const r = ctl(['-w', '-t', '30', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
    if (r.status !== 0) throw new Error(`pg_ctl start failed:\n${String(r.stdout)}\n${String(r.stderr)}`);
  };
  const stop = async () => {
    ctl(['-m', 'immediate', '-w', 'stop']);
  };
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
