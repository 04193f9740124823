/** The markdown report: one row per target run, the notes that explain the columns, and the target checks. */
import { targetChecks, type Results } from './checks.js';
import { REDIS_REFERENCES, TARGETS, type TargetId } from './lineup.js';
import { KEY_COUNT } from './measure.js';
import { f0, f1, ratioCell, show, spread } from './stats.js';
import { bottleneck, busy, cpuPerRequest, growth, medianOf, own, rps } from './summary.js';

export interface Header {
  readonly rounds: number;
  readonly seconds: number;
  readonly connections: number;
  readonly pinned: boolean;
  readonly cpu: string;
  /** Sources newer than their dist-test/ output when the run started. */
  readonly stale: readonly string[];
  /** The bench's redis-server (version, port), when a Redis target ran. */
  readonly redis: string | undefined;
}

export function render(header: Header, results: Results): string {
  const ids = (Object.keys(TARGETS) as TargetId[]).filter((id) => results[id]);
  const toppedUp = ids.filter((id) => TARGETS[id].scenario === 'keys')
    .map((id) => `(${id}) ${f0(medianOf(results[id] ?? [], (m) => m.toppedUp) ?? 0)}`);
  return [
    '# throttlegate benchmark',
    '',
    `${new Date().toISOString()} · node ${process.version} · ${header.cpu} · ${header.rounds} rounds × ${header.seconds} s · ` +
      `${header.connections} connections · ${header.pinned ? 'target on CPU 0, origin + autocannon + Redis on CPU 1' : '**UNPINNED (no taskset)**'}` +
      (header.redis ? ` · ${header.redis}` : ''),
    ...(header.stale.length ? ['', `**STALE BUILD: dist-test/ older than ${header.stale.join(', ')}**`] : []),
    '',
    '| target | req/s median [min–max] | vs (a) | vs memory / vs peer | target CPU µs/req [min–max] | p50 ms | p99 ms | non-2xx / errors per run | buckets | ' +
      'RSS after MB | RSS growth MB | CPU0 busy / target own / CPU1 busy % | Redis own CPU % / store errors |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...ids.map((id) => row(id, results)),
    '',
    'p50/p99, non-2xx and the Redis figures are medians over rounds. "within noise": the min–max req/s spreads of the two rows overlap.',
    '"vs memory / vs peer" (Redis gateway rows): the same scenario on the memory store ((b), (c), (d)) and with @fastify/rate-limit on Redis ((h), (i), (j)).',
    'RSS growth = VmRSS after the measured run minus VmRSS after the 1 s single-key warm-up.' +
      (toppedUp.length
        ? ` Unmeasured top-up requests (median ${toppedUp.join(', ')}) were sent after the timed run of each 100k-key target ` +
          `so all ${KEY_COUNT} keys were seen before reading RSS and buckets; buckets include the warm-up key.`
        : ''),
    'buckets: the gateway\'s throttlegate_active_clients on the memory store; on Redis, the keys Redis holds after the run ' +
      '(DBSIZE; Redis is flushed before each target). The one key of (e) expires 1 ms after its last request, so 0 or 1 there.',
    'Redis own CPU: redis-server\'s CPU time during the measured run, percent of one core; it is part of CPU1 busy. ' +
      'store errors: the gateway\'s throttlegate_store_errors_total (warm-up included); any above 0 means some decisions ' +
      'were made locally (on_error: local), not by Redis, and that row flatters the Redis store.',
    'target CPU µs/req: the target process\'s own CPU time (user + system) during the measured run divided by the requests it served; ' +
      'it does not depend on how fast the loader core was, so it is the steadier measure of what each target costs per request.',
    'CPU busy is per core over the measured run; LOADER-BOUND means autocannon + origin (+ Redis) saturated CPU 1 ' +
      'while the target had spare CPU, so that req/s is a floor for the target, not its capacity. ' +
      'CPU0 busy well above the target\'s own use means something else shared CPU 0.',
    '',
    '## Targets from the issue',
    '',
    ...checksOrNone(targetChecks(results)),
    '',
  ].join('\n');
}

function checksOrNone(lines: string[]): string[] {
  return lines.length ? lines : ['- none: no check has all of its targets in this run (see BENCH_TARGETS)'];
}

function row(id: TargetId, results: Results): string {
  const ms = results[id] ?? [];
  const a = results.a;
  const vsA = id === 'a' ? '1.00 (baseline)' : a ? ratioCell(rps(ms), rps(a)) : '–';
  const buckets = medianOf(ms, (m) => m.buckets);
  const redisCpu = medianOf(ms, (m) => m.redisCpu);
  const storeErrors = medianOf(ms, (m) => m.storeErrors);
  const redisCell = redisCpu === undefined ? '–' : `${f0(redisCpu)} / ${storeErrors === undefined ? '–' : f0(storeErrors)}`;
  return `| ${TARGETS[id].label} | ${show(rps(ms), f0)} | ${vsA} | ${versusReferences(id, results)} | ${show(cpuPerRequest(ms), f0)} | ` +
    `${f1(spread(ms.map((m) => m.p50)).median)} | ${f1(spread(ms.map((m) => m.p99)).median)} | ` +
    `${f0(spread(ms.map((m) => m.non2xx)).median)} / ${f0(spread(ms.map((m) => m.errors)).median)} | ` +
    `${buckets === undefined ? '–' : f0(buckets)} | ${f1(spread(ms.map((m) => m.rssAfterMb)).median)} | ` +
    `${show(growth(ms), f1)} | ${f0(busy(ms, 0))} / ${f0(own(ms))} / ${f0(busy(ms, 1))} (${bottleneck(ms)}) | ${redisCell} |`;
}

/** For (e), (f), (g): the ratio to the memory row and to the peer row of the same scenario, each when it ran. */
function versusReferences(id: TargetId, results: Results): string {
  const refs = REDIS_REFERENCES[id];
  const ms = results[id];
  if (!refs || !ms) return '–';
  const vs = (ref: TargetId) => {
    const other = results[ref];
    return other ? ratioCell(rps(ms), rps(other)) : '–';
  };
  return `${vs(refs.memory)} / ${vs(refs.peer)}`;
}
