/**
 * The bench's own redis-server: a free port on 127.0.0.1, no persistence,
 * pinned with the origin and autocannon. Never the system Redis on 6379,
 * whose keys and load are not the bench's.
 */
import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort, launch, type Started } from './procs.js';

export async function startRedis(cpu: number | undefined): Promise<Started> {
  const port = await freePort();
  const server = ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  // The node children exit when their stdin closes; redis-server cannot, so the
  // kernel sends it SIGTERM when the runner dies, even by SIGKILL.
  const argv = hasSetpriv() ? ['setpriv', '--pdeathsig', 'TERM', ...server] : server;
  return launch('redis-server', argv, cpu, (line) => (/Ready to accept connections/.test(line) ? port : undefined));
}

/** Empties Redis between targets, so none sees another's keys or pays for its memory. */
export function flushRedis(port: number): Promise<unknown> {
  return withClient(port, (redis) => redis.flushall());
}

/** Keys held in Redis: the buckets of the target that just ran (Redis is flushed before each). */
export function redisKeys(port: number): Promise<number> {
  return withClient(port, (redis) => redis.dbsize());
}

export async function redisVersion(port: number): Promise<string> {
  const info = await withClient(port, (redis) => redis.info('server'));
  return /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
}

/** A short-lived connection: the runner holds no socket to Redis while a target is measured. */
async function withClient<T>(port: number, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

function hasSetpriv(): boolean {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
