import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { after, before } from 'node:test';
import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A redis-server process the test owns, so it can stop and restart it on the same port. */
export interface RedisProcess {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** SIGSTOP / SIGCONT: a Redis that holds its connections but answers nothing (a partition). */
  freeze(): void;
  thaw(): void;
}

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * Whether Redis tests can run. Outside CI a missing redis-server skips them
 * with a loud message; in CI (CI=true) it fails, since .ci/run installs it.
 */
export function redisAvailable(): boolean {
  const found = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
  if (found) return true;
  if (process.env.CI) throw new Error('redis-server is not on PATH, and Redis tests must run in CI');
  console.error('\n*** redis-server not found on PATH: SKIPPING Redis tests (apt-get install redis-server) ***\n');
  return false;
}

const HAS_SETPRIV = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;

/** Starts `redis-server` from PATH on a free port, keeping nothing on disk. */
export async function startRedis(extra: string[] = []): Promise<RedisProcess> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tg-redis-'));
  let child: ChildProcess | undefined;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra];
      // setpriv execs redis-server with a parent-death signal: a test runner killed mid-run leaves no Redis behind.
      child = HAS_SETPRIV ? spawn('setpriv', ['--pdeathsig', 'KILL', 'redis-server', ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      }) : spawn('redis-server', args, {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        if (!out.includes('Ready to accept connections')) reject(new Error(`redis-server exited ${code}:\n${out}`));
      });
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    start,
    freeze: () => void child?.kill('SIGSTOP'),
    thaw: () => void child?.kill('SIGCONT'),
  };
}

/** Three masters, no replicas, slots spread by `redis-cli --cluster create`. */
export async function startRedisCluster(): Promise<{ urls: string[]; stop(): Promise<void> }> {
  const nodes: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'tg-cluster-'));
    nodes.push(await startRedis(['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000']));
  }
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
  const made = spawnSync('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${made.stdout}\n${made.stderr}`);
  const deadline = Date.now() + 10_000;
  for (const n of nodes) {
    for (;;) {
      const info = spawnSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], { encoding: 'utf8' }).stdout;
      if (info.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`cluster did not become ok:\n${info}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { urls: nodes.map((n) => n.url), stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))) };
}

/**
 * The Redis a test file runs against: REDIS_URL when set, else a
 * redis-server of the file's own, started before its tests and stopped after
 * them. Read `url` inside tests and hooks (it is known once `before` ran).
 */
export function redisForFile(): { readonly url: string } {
  let server: RedisProcess | undefined;
  let url = process.env.REDIS_URL ?? '';
  before(async () => {
    if (url !== '') return;
    server = await startRedis();
    url = server.url;
  });
  after(async () => {
    await server?.stop();
  });
  return {
    get url() {
      return url;
    },
  };
}
