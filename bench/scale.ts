/**
 * `npm run bench:scale`: how the gateway's req/s grows with `server.workers`
 * (issue 16: 1, 2, 4 and 8 workers; 4 workers at least 3x one), on a machine
 * with cores to spare. The gateway (`throttlegate serve`, the real CLI,
 * memory store, a limit that never refuses, every request logged at info to
 * /dev/null) gets cores [0, N); the origins and the load generator get the
 * upper half of the machine, so a run measures the gateway, not the loader.
 * Worker counts that do not fit in the lower half are skipped, loudly: on a
 * 2-core machine only one worker fits and nothing about scaling is measured.
 *
 * Rounds alternate the order of the counts; each run reports req/s and the
 * CPU per request of the gateway's whole process tree. SCALE_SECONDS (10),
 * SCALE_ROUNDS (3); SCALE_WORKERS=1,2 runs those counts even where they do
 * not fit (they then share cores with the load: a check of the script, not a
 * measurement). The report goes to stdout and .bench/scale.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intEnv } from './env.js';
import { canPin, freePort, killAll, start, stop, treeCpuSeconds, type Started } from './procs.js';
import { f0, f2, ratioVerdict, show, spread } from './stats.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '../..');
const CLI = join(ROOT, 'dist', 'cli.js');
const AUTOCANNON = join(ROOT, 'node_modules', 'autocannon', 'autocannon.js');
const SECONDS = intEnv('SCALE_SECONDS', 10);
const ROUNDS = intEnv('SCALE_ROUNDS', 3);
const COUNTS = [1, 2, 4, 8];
// Gateways started by measure(), killed with the rest should the run be cut short.
const gateways = new Set<ChildProcess>();

interface Run {
  readonly reqPerSec: number;
  readonly cpuUsPerRequest: number;
  readonly errors: number;
}

/** Which cores each side gets: the gateway the lower half, origins and load the upper half split in two. */
function layout(cores: number): { counts: number[]; origins: number[]; load: number[] } {
  const half = Math.max(1, Math.floor(cores / 2));
  const upper = Array.from({ length: Math.max(1, cores - half) }, (_, i) => Math.min(cores - 1, half + i));
  const originCount = Math.max(1, Math.floor(upper.length / 2));
  const origins = upper.slice(0, originCount);
  const load = upper.length > originCount ? upper.slice(originCount) : upper;
  return { counts: COUNTS.filter((n) => n <= half), origins, load };
}

async function main(): Promise<void> {
  const cores = availableParallelism();
  const pinned = canPin();
  const fitting = layout(cores);
  const { origins, load } = fitting;
  const forced = process.env.SCALE_WORKERS?.split(',').map(Number).filter((n) => Number.isInteger(n) && n >= 1 && n <= cores);
  const counts = forced !== undefined && forced.length > 0 ? forced : fitting.counts;
  const skipped = COUNTS.filter((n) => !counts.includes(n));
  const squeezed = counts.filter((n) => !fitting.counts.includes(n));
  console.log(`${cores} cores (${cpus()[0]?.model ?? 'unknown'}); gateway on cores [0, N), origins on ${origins.join(',')}, load on ${load.join(',')}`);
  if (!pinned) console.log('*** taskset unavailable: nothing is pinned, and the numbers mix the gateway with the loader ***');
  for (const n of skipped) console.log(`*** ${n} workers need ${2 * n} cores: SKIPPED on this machine ***`);
  for (const n of squeezed) console.log(`*** ${n} workers share cores with the load here (SCALE_WORKERS): not a measurement ***`);
  const originProcs: Started[] = [];
  for (const core of origins) originProcs.push(await start(`origin on ${core}`, join(HERE, 'origin.js'), ['0'], pinned ? core : undefined));
  const results = new Map<number, Run[]>(counts.map((n) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? counts : [...counts].reverse();
    for (const n of order) {
      const run = await measure(n, originProcs.map((o) => o.port), pinned, load);
      (results.get(n) as Run[]).push(run);
      console.log(`round ${round + 1}, ${n} worker${n === 1 ? '' : 's'}: ${f0(run.reqPerSec)} req/s, ${f0(run.cpuUsPerRequest)} µs CPU per request, ${run.errors} errors`);
    }
  }
  for (const o of originProcs) await stop(o);
  const report = render(cores, counts, skipped, squeezed, results);
  console.log(`\n${report}`);
  mkdirSync(join(ROOT, '.bench'), { recursive: true });
  writeFileSync(join(ROOT, '.bench', 'scale.md'), `${report}\n`);
}

async function measure(workers: number, originPorts: number[], pinned: boolean, loadCores: number[]): Promise<Run> {
  const port = await freePort();
  const file = join(mkdtempSync(join(tmpdir(), 'tg-scale-')), 'config.yaml');
  writeFileSync(file, [
    `server: { workers: ${workers}, port: ${port}, host: 127.0.0.1 }`,
    'log: { level: info }',
    'rate_limit: { requests_per_second: 1000000000, burst: 1000000000, key: [header:x-api-key, ip] }',
    'routes:',
    '  - path: /api',
    '    upstream:',
    '      targets:',
    ...originPorts.map((p) => `        - { url: "http://127.0.0.1:${p}" }`),
    '',
  ].join('\n'));
  const argv = [process.execPath, CLI, 'serve', '--config', file];
  const [cmd, ...args] = pinned ? ['taskset', '-c', `0-${workers - 1}`, ...argv] : argv;
  const devNull = openSync('/dev/null', 'w');
  const gateway = spawn(cmd as string, args, { stdio: ['ignore', devNull, 'inherit'] });
  gateways.add(gateway);
  gateway.once('exit', () => gateways.delete(gateway));
  try {
    await ready(port, gateway);
    const connections = 64 * workers;
    await fire(port, 2, connections, pinned, loadCores);
    const before = treeCpuSeconds(gateway.pid as number);
    const sample = await fire(port, SECONDS, connections, pinned, loadCores);
    const cpu = treeCpuSeconds(gateway.pid as number) - before;
    return { reqPerSec: sample.total / SECONDS, cpuUsPerRequest: (cpu * 1e6) / Math.max(1, sample.total), errors: sample.errors + sample.non2xx };
  } finally {
    const exited = new Promise<void>((done) => gateway.once('exit', () => done()));
    gateway.kill('SIGTERM');
    const timer = setTimeout(() => gateway.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** autocannon's CLI with a worker thread per load core, pinned to them: one loader thread cannot keep 8 workers busy. */
function fire(port: number, seconds: number, connections: number, pinned: boolean, cores: number[]): Promise<{ total: number; errors: number; non2xx: number }> {
  const argv = [process.execPath, AUTOCANNON, '-j', '-c', String(connections), '-d', String(seconds), '-w', String(cores.length), '-H', 'x-api-key=bench-client', `http://127.0.0.1:${port}/api/ping`];
  const [cmd, ...args] = pinned ? ['taskset', '-c', cores.join(','), ...argv] : argv;
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      try {
        const result = JSON.parse(out) as { requests: { total: number }; errors: number; non2xx: number };
        resolveRun({ total: result.requests.total, errors: result.errors, non2xx: result.non2xx });
      } catch {
        reject(new Error(`autocannon exited ${code} without a JSON result`));
      }
    });
  });
}

async function ready(port: number, gateway: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (gateway.exitCode !== null) throw new Error(`the gateway exited (${gateway.exitCode}) before it was ready`);
    const ok = await fetch(`http://127.0.0.1:${port}/ready`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the gateway was not ready within 30 s');
}

function render(cores: number, counts: number[], skipped: number[], squeezed: number[], results: Map<number, Run[]>): string {
  const one = spread((results.get(1) ?? []).map((r) => r.reqPerSec));
  const lines = [
    `# throttlegate scaling: ${new Date().toISOString()}, node ${process.version}, ${cores} cores, ${ROUNDS} rounds x ${SECONDS} s`,
    '',
    '| workers | req/s median [min–max] | vs 1 worker | CPU µs per request [min–max] | errors per run (max) |',
    '|---|---|---|---|---|',
  ];
  for (const n of counts) {
    const runs = results.get(n) ?? [];
    const rps = spread(runs.map((r) => r.reqPerSec));
    lines.push(`| ${n} | ${show(rps, f0)} | ${f2(rps.median / one.median)} | ${show(spread(runs.map((r) => r.cpuUsPerRequest)), f0)} | ${Math.max(0, ...runs.map((r) => r.errors))} |`);
  }
  if (skipped.length > 0) lines.push('', `Not measured (too few cores): ${skipped.join(', ')} workers.`);
  if (squeezed.length > 0) lines.push('', `Sharing cores with the load (SCALE_WORKERS), so not a measurement: ${squeezed.join(', ')} workers.`);
  const four = results.get(4);
  if (four !== undefined) {
    const { verdict, detail } = ratioVerdict(spread(four.map((r) => r.reqPerSec)), one, 3);
    lines.push('', `- 4 workers >= 3 × 1 worker req/s: **${verdict}** (${detail})`);
  } else lines.push('', '- 4 workers >= 3 × 1 worker req/s: **not measured** (needs 8 cores)');
  return lines.join('\n');
}

process.on('exit', () => {
  killAll();
  for (const gateway of gateways) gateway.kill('SIGKILL');
});
process.on('SIGINT', () => process.exit(130));
main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
