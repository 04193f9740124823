/** Statistics over the rounds and the markdown report. */
import type { Sample } from './load.js';

export type TargetId = 'a' | 'b' | 'c' | 'd';

export interface Measurement extends Sample {
  readonly rssBeforeMb: number;
  readonly rssAfterMb: number;
  /** The gateway's throttlegate_active_clients after the run (undefined for the bare proxy). */
  readonly buckets: number | undefined;
  /** Extra unmeasured requests sent so every one of the 100k keys was seen (d only). */
  readonly toppedUp: number;
  /** Percent busy per CPU during the measured run (CPU 0 = target, CPU 1 = origin + autocannon when pinned). */
  readonly cpuBusy: readonly number[];
  /** The target process's own CPU use during the measured run, percent of one core. */
  readonly targetCpu: number;
}

export interface Header {
  readonly rounds: number;
  readonly seconds: number;
  readonly connections: number;
  readonly pinned: boolean;
  readonly cpu: string;
  /** Sources newer than their dist-test/ output when the run started. */
  readonly stale: readonly string[];
}

export type Verdict = 'PASS' | 'FAIL' | 'NOISE';

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export const LABELS: Record<TargetId, string> = {
  a: '(a) bare fastify + http-proxy',
  b: '(b) gateway pass-through',
  c: '(c) gateway flood (429s)',
  d: '(d) gateway 100k keys',
};

export const KEY_COUNT = 100_000;
const RSS_BUDGET_MB = 20;

function spread(xs: readonly number[]): Spread {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number };
}

const f0 = (x: number) => x.toFixed(0);
const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
const show = (s: Spread, f: (x: number) => string) => `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
const rps = (ms: readonly Measurement[]) => spread(ms.map((m) => m.reqPerSec));
const growth = (ms: readonly Measurement[]) => spread(ms.map((m) => m.rssAfterMb - m.rssBeforeMb));
const busy = (ms: readonly Measurement[], cpu: number) => spread(ms.map((m) => m.cpuBusy[cpu] ?? 0)).median;
const own = (ms: readonly Measurement[]) => spread(ms.map((m) => m.targetCpu)).median;

/** Which side saturated its CPU: 'loader' means the req/s is a floor for the target, not its limit. */
function bottleneck(ms: readonly Measurement[]): string {
  if (busy(ms, 0) >= 90) return 'target-bound';
  return busy(ms, 1) >= 90 ? 'LOADER-BOUND' : 'neither saturated';
}

/** The ratio X/(a) over the spreads: the worst and best case the rounds allow. */
function ratioBounds(x: Spread, a: Spread): { lo: number; hi: number; median: number } {
  return { lo: x.min / a.max, hi: x.max / a.min, median: x.median / a.median };
}

function ratioCell(x: Spread, a: Spread, isBaseline: boolean): string {
  if (isBaseline) return '1.00 (baseline)';
  const r = ratioBounds(x, a);
  const overlap = x.min <= a.max && a.min <= x.max;
  return `${f2(r.median)}${overlap ? ' (within noise)' : ''}`;
}

/** At least `threshold` x (a): PASS if even the worst case holds, FAIL if even the best case misses. */
function ratioVerdict(x: Spread, a: Spread, threshold: number): { verdict: Verdict; detail: string } {
  const r = ratioBounds(x, a);
  const detail = `median ratio ${f2(r.median)}, spread allows ${f2(r.lo)}–${f2(r.hi)}`;
  // One round has no spread: nothing can be said beyond noise.
  if (x.min === x.max && a.min === a.max) return { verdict: 'NOISE', detail: `${detail}; single round, no spread estimate` };
  const verdict: Verdict = r.lo >= threshold ? 'PASS' : r.hi < threshold ? 'FAIL' : 'NOISE';
  return { verdict, detail };
}

function pairedRatios(x: readonly Measurement[], a: readonly Measurement[]): string {
  return x.map((m, i) => f2(m.reqPerSec / (a[i]?.reqPerSec ?? NaN))).join(', ');
}

export function render(header: Header, results: Record<TargetId, Measurement[]>): string {
  const a = rps(results.a);
  const lines = [
    '# throttlegate benchmark',
    '',
    `${new Date().toISOString()} · node ${process.version} · ${header.cpu} · ${header.rounds} rounds × ${header.seconds} s · ` +
      `${header.connections} connections · ${header.pinned ? 'target on CPU 0, origin + autocannon on CPU 1' : '**UNPINNED (no taskset)**'}`,
    ...(header.stale.length ? ['', `**STALE BUILD: dist-test/ older than ${header.stale.join(', ')}**`] : []),
    '',
    '| target | req/s median [min–max] | vs (a) | p50 ms | p99 ms | non-2xx / errors per run | buckets | RSS after MB | RSS growth MB | CPU0 busy / target own / CPU1 busy % |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const id of Object.keys(LABELS) as TargetId[]) {
    const ms = results[id];
    const buckets = ms.map((m) => m.buckets).filter((b): b is number => b !== undefined);
    lines.push(
      `| ${LABELS[id]} | ${show(rps(ms), f0)} | ${ratioCell(rps(ms), a, id === 'a')} | ` +
        `${f1(spread(ms.map((m) => m.p50)).median)} | ${f1(spread(ms.map((m) => m.p99)).median)} | ` +
        `${f0(spread(ms.map((m) => m.non2xx)).median)} / ${f0(spread(ms.map((m) => m.errors)).median)} | ` +
        `${buckets.length ? f0(spread(buckets).median) : '–'} | ${f1(spread(ms.map((m) => m.rssAfterMb)).median)} | ` +
        `${show(growth(ms), f1)} | ${f0(busy(ms, 0))} / ${f0(own(ms))} / ${f0(busy(ms, 1))} (${bottleneck(ms)}) |`,
    );
  }
  const b = ratioVerdict(rps(results.b), a, 0.95);
  const c = ratioVerdict(rps(results.c), a, 3);
  const d = rssVerdict(results.d);
  const net = spread(results.d.map((m, i) => m.rssAfterMb - m.rssBeforeMb - rssGrowthOf(results.b[i])));
  const toppedUp = spread(results.d.map((m) => m.toppedUp)).median;
  lines.push(
    '',
    'p50/p99 and non-2xx are medians over rounds. "within noise": the min–max req/s spreads of (a) and the target overlap.',
    `RSS growth = VmRSS after the measured run minus VmRSS after the 1 s single-key warm-up. (d) median ${f0(toppedUp)} unmeasured ` +
      `top-up requests were sent after the timed run so all ${KEY_COUNT} keys were seen before reading RSS; ` +
      `its buckets count includes the warm-up key.`,
    'CPU busy is per core over the measured run; LOADER-BOUND means autocannon + origin saturated CPU 1 ' +
      'while the target had spare CPU, so that req/s is a floor for the target, not its capacity. ' +
      'CPU0 busy well above the target\'s own use means something else shared CPU 0.',
    '',
    '## Targets from the issue',
    '',
    `- (b) >= 0.95 × (a) req/s: **${b.verdict}** (${b.detail}; paired rounds ${pairedRatios(results.b, results.a)})`,
    `- (c) >= 3 × (a) req/s: **${c.verdict}** (${c.detail}; paired rounds ${pairedRatios(results.c, results.a)})`,
    `- (c) ran ${bottleneck(results.c)}: CPU0 ${f0(busy(results.c, 0))} %, CPU1 ${f0(busy(results.c, 1))} %`,
    `- (d) RSS growth <= ${RSS_BUDGET_MB} MB for ${KEY_COUNT} keys: **${d.verdict}** (${d.detail})`,
    `  - informational: (d) growth minus (b) growth in the same round (same traffic, one key): ${show(net, f1)} MB, ` +
      `≈${f0((net.median * 1024 * 1024) / KEY_COUNT)} B per key`,
    '',
  );
  return lines.join('\n');
}

function rssGrowthOf(m: Measurement | undefined): number {
  return m ? m.rssAfterMb - m.rssBeforeMb : NaN;
}

function rssVerdict(ms: readonly Measurement[]): { verdict: Verdict; detail: string } {
  const g = growth(ms);
  const short = ms.filter((m) => (m.buckets ?? 0) < KEY_COUNT).length;
  let verdict: Verdict = g.max <= RSS_BUDGET_MB ? 'PASS' : g.min > RSS_BUDGET_MB ? 'FAIL' : 'NOISE';
  if (ms.length < 2) verdict = 'NOISE';
  const perBucket = (g.median * 1024 * 1024) / KEY_COUNT;
  const note = (short ? `; WARNING: ${short} round(s) held fewer than ${KEY_COUNT} buckets` : '') +
    (ms.length < 2 ? '; single round, no spread estimate' : '');
  return { verdict, detail: `growth ${show(g, f1)} MB, ≈${f0(perBucket)} B per key${note}` };
}
