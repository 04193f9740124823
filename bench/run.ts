/**
 * `npm run bench`: alternates targets a n b m l k c d e f g h i j (or the BENCH_TARGETS
 * subset; every other round in reverse order) for BENCH_ROUNDS rounds, each a fresh process on CPU 0, driven by
 * autocannon in this process on CPU 1 next to the origin and the bench's own
 * redis-server. Prints a markdown table and writes it to .bench/results.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canPin, killAll, pinSelf, start, stop } from './procs.js';
import { staleSources } from './fresh.js';
import { intEnv } from './env.js';
import { selectTargets, TARGETS, type TargetId } from './lineup.js';
import { measure, type Measurement } from './measure.js';
import { redisVersion, startRedis } from './redis.js';
import { render } from './report.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const TARGET_CPU = 0;
const LOADER_CPU = 1;


const ROUNDS = intEnv('BENCH_ROUNDS', 3);
const SECONDS = intEnv('BENCH_SECONDS', 10);
const CONNECTIONS = intEnv('BENCH_CONNECTIONS', 50);
const SELECTED = selectTargets(process.env.BENCH_TARGETS);

function cpuModel(): string {
  const model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return model?.[1]?.trim() ?? 'unknown CPU';
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
  console.error(`bench: ${ROUNDS} rounds × ${SECONDS} s, ${CONNECTIONS} connections, targets ${SELECTED.join(' ')}`);
  const origin = await start('origin', join(HERE, 'origin.js'), ['0'], pinned ? LOADER_CPU : undefined);
  // (l)'s pool forwards to three origins: this one and two more, on the same CPU.
  const poolOrigins = SELECTED.some((id) => TARGETS[id].pool)
    ? await Promise.all([1, 2].map((n) => start(`origin ${n + 1}`, join(HERE, 'origin.js'), ['0'], pinned ? LOADER_CPU : undefined)))
    : [];
  // Redis shares CPU 1 with the origin and autocannon: the target keeps CPU 0 to itself, as for (a)-(d).
  const redis = SELECTED.some((id) => TARGETS[id].redis) ? await startRedis(pinned ? LOADER_CPU : undefined) : undefined;
  const redisNote = redis ? `redis-server ${await redisVersion(redis.port)} on port ${redis.port}` : undefined;
  if (redisNote) console.error(`bench: ${redisNote}`);
  // (r) exports spans: to a collector stand-in on CPU 1, next to the origin.
  const sink = SELECTED.some((id) => TARGETS[id].otlp) ? await start('otlp sink', join(HERE, 'otlp-sink.js'), ['0'], pinned ? LOADER_CPU : undefined) : undefined;
  const run = {
    originPort: origin.port,
    poolPorts: poolOrigins.map((o) => o.port),
    redis,
    otlpPort: sink?.port,
    targetCpu: pinned ? TARGET_CPU : undefined,
    seconds: SECONDS,
    connections: CONNECTIONS,
  };
  const results: Partial<Record<TargetId, Measurement[]>> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    // ABBA: every other round runs the targets in reverse, so no target always runs first or last in a round
    // (a drift within a round, from the loader warming or the host, would otherwise favour some targets every time).
    for (const id of round % 2 === 1 ? SELECTED : [...SELECTED].reverse()) {
      const m = await measure(id, run);
      (results[id] ??= []).push(m);
      console.error(`round ${round} ${TARGETS[id].label}: ${progressLine(m)}`);
    }
  }
  await stop(origin);
  for (const o of poolOrigins) await stop(o);
  if (redis) await stop(redis);
  if (sink) {
    console.error(`bench: otlp sink received ${await (await fetch(`http://127.0.0.1:${sink.port}/stats`)).text()}`);
    await stop(sink);
  }
  const table = render({ rounds: ROUNDS, seconds: SECONDS, connections: CONNECTIONS, pinned, cpu: cpuModel(), stale, redis: redisNote }, results);
  console.log(table);
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  writeFileSync(join(ROOT, '.bench', 'results.md'), table);
  console.error(`written to ${join(ROOT, '.bench', 'results.md')}`);
}

function progressLine(m: Measurement): string {
  return `${m.reqPerSec.toFixed(0)} req/s, p50 ${m.p50} ms, p99 ${m.p99} ms, ` +
    `non-2xx ${m.non2xx}, errors ${m.errors}, RSS ${m.rssBeforeMb.toFixed(1)} -> ${m.rssAfterMb.toFixed(1)} MB` +
    (m.buckets === undefined ? '' : `, buckets ${m.buckets}`) +
    `, CPU busy ${m.cpuBusy.map((p) => p.toFixed(0)).join('/')} %, target ${m.targetCpu.toFixed(0)} %` +
    (m.redisCpu === undefined ? '' : `, redis ${m.redisCpu.toFixed(0)} %`) +
    (m.storeErrors === undefined ? '' : `, store errors ${m.storeErrors}`);
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
