/**
 * `npm run bench`: alternates targets a b c d for BENCH_ROUNDS rounds, each a
 * fresh process on CPU 0, driven by autocannon in this process on CPU 1 next
 * to the origin. Prints a markdown table and writes it to .bench/results.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { activeClients, fire, KeyCycler } from './load.js';
import { busyPercent, canPin, cpuSeconds, cpuTimes, killAll, pinSelf, rssMb, start, stop } from './procs.js';
import { staleSources } from './fresh.js';
import { KEY_COUNT, LABELS, render, type Measurement, type TargetId } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TARGET_CPU = 0;
const LOADER_CPU = 1;

function intEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
}

const ROUNDS = intEnv('BENCH_ROUNDS', 3);
const SECONDS = intEnv('BENCH_SECONDS', 10);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 50);

function cpuModel(): string {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return model?.[1]?.trim() ?? 'unknown CPU';
}

async function measure(id: TargetId, originPort: number, pinned: boolean): Promise<Measurement> {
  const target = await start(LABELS[id], join(HERE, `target-${id}.js`), [String(originPort)], pinned ? TARGET_CPU : undefined);
  try {
    await fire({ port: target.port, seconds: 1, connections: CONNECTIONS }); // warm-up, one key
    const rssBeforeMb = rssMb(target.pid);
    const keys = id === 'd' ? new KeyCycler(KEY_COUNT) : undefined;
    const [cpuBefore, ownBefore, t0] = [cpuTimes(), cpuSeconds(target.pid), performance.now()];
    const sample = await fire({ port: target.port, seconds: SECONDS, connections: CONNECTIONS, keys });
    const cpuBusy = busyPercent(cpuBefore, cpuTimes());
    const targetCpu = (100 * (cpuSeconds(target.pid) - ownBefore)) / ((performance.now() - t0) / 1000);
    let toppedUp = 0;
    // Requests built but still in flight at the end may be unsent: a margin of one per connection.
    if (keys && keys.used < KEY_COUNT + CONNECTIONS) {
      toppedUp = KEY_COUNT + CONNECTIONS - keys.used;
      await fire({ port: target.port, amount: toppedUp, connections: CONNECTIONS, keys });
    }
    const rssAfterMb = rssMb(target.pid);
    const buckets = id === 'a' ? undefined : await activeClients(target.port);
    return { ...sample, rssBeforeMb, rssAfterMb, buckets, toppedUp, cpuBusy, targetCpu };
  } finally {
    await stop(target);
  }
}

async function main(): Promise<void> {
  const pinned = canPin();
  if (pinned) {
    pinSelf(LOADER_CPU);
  } else {
    const bar = '!'.repeat(72);
    console.warn(`${bar}\nWARNING: taskset missing or fewer than 2 CPUs: running UNPINNED.\n` +
      `Target, origin and load generator compete for CPUs; numbers are noisier and not comparable.\n${bar}`);
  }
  const stale = staleSources(ROOT);
  if (stale.length > 0) {
    console.warn(`${'!'.repeat(72)}\nWARNING: dist-test/ is older than ${stale.length} source file(s) (${stale.slice(0, 3).join(', ')}` +
      `${stale.length > 3 ? ', ...' : ''}).\nThis run measures STALE code: run \`npx tsc -p tsconfig.json\` first.\n${'!'.repeat(72)}`);
  }
  console.error(`bench: ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections`);
  const origin = await start('origin', join(HERE, 'origin.js'), ['0'], pinned ? LOADER_CPU : undefined);
  const results: Record<TargetId, Measurement[]> = { a: [], b: [], c: [], d: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const id of Object.keys(results) as TargetId[]) {
      const m = await measure(id, origin.port, pinned);
      results[id].push(m);
      console.error(
        `round ${round} ${LABELS[id]}: ${m.reqPerSec.toFixed(0)} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, ` +
          `non-2xx ${m.non2xx}, errors ${m.errors}, RSS ${m.rssBeforeMb.toFixed(1)} -> ${m.rssAfterMb.toFixed(1)} MB` +
          (m.buckets === undefined ? '' : `, buckets ${m.buckets}`) +
          `, CPU busy ${m.cpuBusy.map((p) => p.toFixed(0)).join('/')} %, target ${m.targetCpu.toFixed(0)} %`,
      );
    }
  }
  await stop(origin);
  const table = render({ rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, pinned, cpu: cpuModel(), stale }, results);
  console.log(table);
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  writeFileSync(join(ROOT, '.bench', 'results.md'), table);
  console.error(`written to ${join(ROOT, '.bench', 'results.md')}`);
}

process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.error(`bench: ${signal}, stopping every child process`);
    killAll();
    process.exit(130);
  });
}
main().catch((err: unknown) => {
  console.error(err);
  killAll();
  process.exit(1);
});
