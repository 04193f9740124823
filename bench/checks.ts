/** The targets, each checked only when every target it compares was run (see BENCH_TARGETS). */
import type { TargetId } from './lineup.js';
import { KEY_COUNT, type Measurement } from './measure.js';
import { allOf, f0, f1, pairedRatios, ratioVerdict, show, spread, type Verdict } from './stats.js';
import { bottleneck, busy, cpuPerRequest, growth, rps } from './summary.js';

export type Results = Partial<Record<TargetId, Measurement[]>>;

const RSS_BUDGET_MB = 20;

interface RatioClaim {
  readonly x: TargetId;
  readonly ref: TargetId;
  readonly threshold: number;
  readonly claim: string;
}

const flood = (x: TargetId): RatioClaim => ({ x, ref: 'a', threshold: 3, claim: `(${x}) >= 3 × (a) req/s` });
const atLeast = (x: TargetId, threshold: number): RatioClaim => ({ x, ref: 'a', threshold, claim: `(${x}) >= ${threshold} × (a) req/s` });
// "Ahead" as a ratio of at least 1: PASS then means the gateway's slowest round beat the peer's fastest.
const ahead = (x: TargetId, peer: TargetId, scenario: string): RatioClaim =>
  ({ x, ref: peer, threshold: 1, claim: `(${x}) > (${peer}) req/s, ${scenario}` });

const PEER_CLAIMS = [ahead('e', 'h', 'pass-through'), ahead('f', 'i', 'flood'), ahead('g', 'j', '100k keys')];

export function targetChecks(results: Results): string[] {
  const verdictOf = (c: RatioClaim) => checkRatio(results, c)?.verdict;
  const peerVerdicts = PEER_CLAIMS.map(verdictOf).filter((v): v is Verdict => v !== undefined);
  return [
    ...ratioLine(results, atLeast('b', 1)),
    ...ratioLine(results, { ...atLeast('b', 1.3), claim: '(b) >= 1.3 × (a) req/s (the goal)' }),
    ...costLine(results, 'b', 'a'),
    ...costLine(results, 'b', 'n'),
    ...ratioLine(results, ahead('b', 'k', 'pass-through, memory stores (informational)')),
    ...ratioLine(results, { x: 'l', ref: 'b', threshold: 0.9, claim: '(l) >= 0.9 × (b) req/s: a 3-target pool against the single upstream' }),
    ...ratioLine(results, { x: 'm', ref: 'b', threshold: 0.8, claim: '(m) >= 0.8 × (b) req/s: an API-key plan lookup and three limits against one limit' }),
    ...costLine(results, 'm', 'b'),
    ...ratioLine(results, flood('c')),
    ...bottleneckLine(results, 'c'),
    ...costLine(results, 'c', 'v'),
    ...ratioLine(results, { x: 'v', ref: 'a', threshold: 3, claim: '(v) >= 3 × (a) req/s: Node\'s own floor for the same 429 bytes, against the same bar (informational)' }),
    ...rssLines(results),
    ...ratioLine(results, { x: 'd', ref: 'b', threshold: 0.95, claim: '(d) >= 0.95 × (b) req/s: 100k keys against one' }),
    ...ratioLine(results, atLeast('e', 0.9)),
    ...costLine(results, 'e', 'a'),
    ...costLine(results, 'e', 'h'),
    ...ratioLine(results, flood('f')),
    ...bottleneckLine(results, 'f'),
    ...ratioLine(results, atLeast('g', 0.9)),
    ...PEER_CLAIMS.flatMap((c) => ratioLine(results, c)),
    ...cpuClaim(results, 'o', 'b', 10, '(o) 2 workers: CPU per request (primary + workers) at most 10 µs above (b), one process'),
    ...cpuClaim(results, 'p', 'c', 0, '(p) 2 workers, flood: CPU per request at most that of (c), one process'),
    ...costLine(results, 't', 'b'),
    ...costLine(results, 'o', 't'),
    ...costLine(results, 'u', 'c'),
    ...costLine(results, 'p', 'u'),
    ...ratioLine(results, { x: 'q', ref: 'b', threshold: 0.95, claim: '(q) >= 0.95 × (b) req/s: adaptive protection on (enforce) against off' }),
    ...costLine(results, 'q', 'b'),
    ...ratioLine(results, { x: 'r', ref: 'b', threshold: 0.95, claim: '(r) >= 0.95 × (b) req/s: tracing on (sample_ratio 0.01, OTLP export) against off' }),
    ...costLine(results, 'r', 'b'),
    ...ratioLine(results, { x: 's', ref: 'b', threshold: 0.98, claim: '(s) >= 0.98 × (b) req/s: a dashboard session streaming its overview, clients and live log against none' }),
    ...costLine(results, 's', 'b'),
    ...(peerVerdicts.length === PEER_CLAIMS.length
      ? [`- ahead of @fastify/rate-limit on Redis in every scenario: **${allOf(peerVerdicts)}** ` +
          '(PASS only if all three pass; a pass means the gateway\'s slowest round beat the peer\'s fastest)']
      : []),
  ];
}

function checkRatio(results: Results, c: RatioClaim): { verdict: Verdict; detail: string } | undefined {
  const [x, ref] = [results[c.x], results[c.ref]];
  return x && ref ? ratioVerdict(rps(x), rps(ref), c.threshold) : undefined;
}

function ratioLine(results: Results, c: RatioClaim): string[] {
  const r = checkRatio(results, c);
  if (!r) return [];
  return [`- ${c.claim}: **${r.verdict}** (${r.detail}; paired rounds ${pairedRatios(results[c.x] ?? [], results[c.ref] ?? [])})`];
}

/**
 * Informational: the same comparison in CPU time per request, the figure that
 * does not move with the loader core. ref/x is the req/s ratio a run bound by
 * the target's core alone would converge to.
 */
function costLine(results: Results, x: TargetId, ref: TargetId): string[] {
  const [xs, refs] = [results[x], results[ref]];
  if (!xs || !refs) return [];
  const [cx, cr] = [cpuPerRequest(xs), cpuPerRequest(refs)];
  return [`  - informational: (${x}) costs ${f0(cx.median)} µs of CPU per request [${f0(cx.min)}–${f0(cx.max)}], ` +
    `(${ref}) ${f0(cr.median)} [${f0(cr.min)}–${f0(cr.max)}]: ${f0(cx.median - cr.median)} µs more, ` +
    `a CPU-bound ratio of ${(cr.median / cx.median).toFixed(2)}`];
}

/** x's median CPU per request at most ref's plus `slackUs`; PASS needs x's worst round within ref's best plus slack. */
function cpuClaim(results: Results, x: TargetId, ref: TargetId, slackUs: number, claim: string): string[] {
  const [xs, refs] = [results[x], results[ref]];
  if (!xs || !refs) return [];
  const [cx, cr] = [cpuPerRequest(xs), cpuPerRequest(refs)];
  const verdict = cx.max <= cr.min + slackUs ? 'PASS' : cx.median <= cr.median + slackUs ? 'NOISE' : 'FAIL';
  return [`- ${claim}: **${verdict}** ((${x}) ${f0(cx.median)} µs [${f0(cx.min)}–${f0(cx.max)}], (${ref}) ${f0(cr.median)} [${f0(cr.min)}–${f0(cr.max)}]: ` +
    `${f0(cx.median - cr.median)} µs more)`];
}

function bottleneckLine(results: Results, id: TargetId): string[] {
  const ms = results[id];
  return ms ? [`- (${id}) ran ${bottleneck(ms)}: CPU0 ${f0(busy(ms, 0))} %, CPU1 ${f0(busy(ms, 1))} %`] : [];
}

function rssLines(results: Results): string[] {
  const { d, b } = results;
  if (!d) return [];
  const { verdict, detail } = rssVerdict(d);
  const lines = [`- (d) RSS growth <= ${RSS_BUDGET_MB} MB for ${KEY_COUNT} keys: **${verdict}** (${detail})`];
  if (b) {
    const net = spread(d.map((m, i) => m.rssAfterMb - m.rssBeforeMb - rssGrowthOf(b[i])));
    lines.push(
      `  - informational: (d) growth minus (b) growth in the same round (same traffic, one key): ${show(net, f1)} MB, ` +
        `≈${f0((net.median * 1024 * 1024) / KEY_COUNT)} B per key`,
    );
  }
  return lines;
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
