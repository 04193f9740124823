/** One measured run of one target: start it fresh, warm up, fire, read its CPU, RSS and buckets, stop it. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fire, gatewayMetric, KeyCycler, type Sample } from './load.js';
import { TARGETS, type TargetId } from './lineup.js';
import { busyPercent, cpuSeconds, cpuTimes, rssMb, start, stop, treeCpuSeconds, type Started } from './procs.js';
import { flushRedis, redisKeys } from './redis.js';

const HERE = dirname(fileURLToPath(import.meta.url));
export const KEY_COUNT = 100_000;

export interface Measurement extends Sample {
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  /**
   * Buckets after the run: the gateway's throttlegate_active_clients on the
   * memory store; keys in Redis (DBSIZE) for Redis targets, since the gateway's
   * gauge there counts only its fallback store and over-limit cache. Undefined for (a).
   */
  readonly buckets: number | undefined;
  /** Extra unmeasured requests sent so every one of the 100k keys was seen (100k-key targets only). */
  readonly toppedUp: number;
  /** Percent busy per CPU during the measured run (CPU 0 = target, CPU 1 = origin + autocannon + Redis when pinned). */
  readonly cpuBusy: readonly number[];
  /** The target's own CPU use during the measured run (its process and those it started: workers), percent of one core. */
  readonly targetCpu: number;
  /** redis-server's own CPU use during the measured run, percent of one core (Redis targets only). */
  readonly redisCpu: number | undefined;
  /**
   * The gateway's throttlegate_store_errors_total after the run, warm-up included
   * (Redis gateway targets only): decisions made by on_error (local) instead of Redis.
   */
  readonly storeErrors: number | undefined;
}

export interface RunSettings {
  readonly originPort: number;
  /** The two extra origins pool targets forward to, besides originPort. */
  readonly poolPorts: readonly number[];
  /** The bench's redis-server; required when a Redis target is measured. */
  readonly redis: Started | undefined;
  /** The bench's OTLP sink's port; required when a tracing target is measured. */
  readonly otlpPort: number | undefined;
  /** The CPU for the target, undefined when unpinned. */
  readonly targetCpu: number | undefined;
  readonly seconds: number;
  readonly connections: number;
}

export async function measure(id: TargetId, run: RunSettings): Promise<Measurement> {
  const info = TARGETS[id];
  const redis = info.redis ? run.redis : undefined;
  if (info.redis && !redis) throw new Error(`${info.label} needs the bench's redis-server`);
  if (redis) await flushRedis(redis.port);
  if (info.otlp && run.otlpPort === undefined) throw new Error(`${info.label} needs the bench's OTLP sink`);
  const args = [String(run.originPort), ...(info.pool ? run.poolPorts.map(String) : []), ...(redis ? [String(redis.port)] : []), ...(info.otlp ? [String(run.otlpPort)] : [])];
  const target = await start(info.label, join(HERE, `target-${id}.js`), args, run.targetCpu);
  const { connections } = run;
  try {
    await fire({ port: target.port, seconds: 1, connections }); // warm-up, one key
    const rssBeforeMb = rssMb(target.pid);
    const keys = info.scenario === 'keys' ? new KeyCycler(KEY_COUNT) : undefined;
    const redisPid = redis?.pid;
    const before = { cpu: cpuTimes(), own: treeCpuSeconds(target.pid), redis: redisPid ? cpuSeconds(redisPid) : 0, t: performance.now() };
    const sample = await fire({ port: target.port, seconds: run.seconds, connections, keys });
    const cpuBusy = busyPercent(before.cpu, cpuTimes());
    const elapsed = (performance.now() - before.t) / 1000;
    const targetCpu = (100 * (treeCpuSeconds(target.pid) - before.own)) / elapsed;
    const redisCpu = redisPid ? (100 * (cpuSeconds(redisPid) - before.redis)) / elapsed : undefined;
    let toppedUp = 0;
    // Requests built but still in flight at the end may be unsent: a margin of one per connection.
    if (keys && keys.used < KEY_COUNT + connections) {
      toppedUp = KEY_COUNT + connections - keys.used;
      await fire({ port: target.port, amount: toppedUp, connections, keys });
    }
    const rssAfterMb = rssMb(target.pid);
    const buckets = redis
      ? await redisKeys(redis.port)
      : info.kind === 'gateway' ? await gatewayMetric(target.port, 'throttlegate_active_clients') : undefined;
    const storeErrors = redis && info.kind === 'gateway' ? await gatewayMetric(target.port, 'throttlegate_store_errors_total') : undefined;
    return { ...sample, rssBeforeMb, rssAfterMb, buckets, toppedUp, cpuBusy, targetCpu, redisCpu, storeErrors };
  } finally {
    await stop(target);
  }
}
