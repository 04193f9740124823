import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GradientController, MIN_RTT_SAMPLES, type GradientOptions } from '../../src/adaptive/concurrency/gradient.js';
import { admissionBand, admits, BAND_SHARES, RouteConcurrency } from '../../src/adaptive/concurrency/admission.js';
import type { Assessment } from '../../src/adaptive/engine.js';
import { mulberry32 } from '../../src/adaptive/random.js';
import { parseConfig } from '../../src/index.js';
import { concurrencyRoutesFor } from '../../src/adaptive/concurrency/routes.js';
import { Registry } from 'prom-client';

const OPTIONS: GradientOptions = { minLimit: 3, maxLimit: 1000, initialLimit: 20, sampleWindowMs: 100, minRttIntervalMs: 60_000, buffer: 0.25 };

/** An upstream of `servers` workers (Infinity: no queue), each taking `serviceMs` per request, first come first served (a queue forms past `servers`). */
interface Upstream {
  servers(t: number): number;
  serviceMs(t: number): number;
}

interface Run {
  /** The limit at the end of every simulated 100 ms, [t, limit]. */
  readonly limits: [number, number][];
  /** Requests completed in each simulated second. */
  readonly completedPerSecond: number[];
  readonly shed: number;
  readonly controller: GradientController;
}

/**
 * Drives a controller with an injected clock (1 ms steps, no timers): open-loop
 * arrivals at `perMs` a millisecond, admitted while fewer than the limit are in
 * flight, served by `upstream`; each completion is a latency sample.
 */
function simulate(options: GradientOptions, upstream: Upstream, perMs: number, durationMs: number, check?: (c: GradientController, t: number) => void): Run {
  const c = new GradientController(options, 0);
  const completions = new Map<number, number[]>();
  let free: number[] = [];
  let inFlight = 0;
  let credit = 0;
  let shed = 0;
  const limits: [number, number][] = [];
  const completedPerSecond: number[] = [];
  for (let t = 0; t < durationMs; t++) {
    const servers = upstream.servers(t);
    while (free.length < servers && Number.isFinite(servers)) free.push(t);
    if (free.length > servers) free = free.slice(0, servers);
    for (const startedAt of completions.get(t) ?? []) {
      inFlight--;
      c.record(startedAt, t);
      completedPerSecond[Math.floor(t / 1000)] = (completedPerSecond[Math.floor(t / 1000)] ?? 0) + 1;
    }
    completions.delete(t);
    c.tick(t);
    for (credit += perMs; credit >= 1; credit--) {
      if (inFlight >= c.limit) {
        shed++;
        continue;
      }
      inFlight++;
      let end = t + upstream.serviceMs(t);
      if (Number.isFinite(servers)) {
        // The worker free soonest takes it: first come, first served.
        let i = 0;
        for (let j = 1; j < free.length; j++) if ((free[j] as number) < (free[i] as number)) i = j;
        end = Math.max(t, free[i] as number) + upstream.serviceMs(t);
        free[i] = end;
      }
      const due = completions.get(end);
      if (due === undefined) completions.set(end, [t]);
      else due.push(t);
    }
    check?.(c, t);
    if (t % 100 === 99) limits.push([t + 1, c.limit]);
  }
  return { limits, completedPerSecond, shed, controller: c };
}

const fixed = (serviceMs: (t: number) => number): Upstream => ({ servers: () => Infinity, serviceMs });
const between = (run: Run, from: number, to: number) => run.limits.filter(([t]) => t > from && t <= to).map(([, l]) => l);

test('starts by measuring minRTT with the limit pinned to min_limit, then gives back the initial limit', () => {
  const c = new GradientController(OPTIONS, 0);
  assert.equal(c.limit, 20, 'before any request: the initial limit');
  c.tick(0);
  assert.ok(c.measuring);
  assert.equal(c.limit, 3);
  for (let i = 0; i < MIN_RTT_SAMPLES - 1; i++) c.record(i, i + 10);
  assert.ok(c.measuring, 'one sample short');
  c.record(50, 62);
  assert.ok(!c.measuring);
  assert.equal(c.minRtt, 10, 'the p90 of 19 x 10 ms and one 12 ms');
  assert.equal(c.limit, 20);
});

test('a latency of a request that started before the measurement began is no minRTT sample', () => {
  const c = new GradientController(OPTIONS, 1000);
  c.tick(1000);
  for (let i = 0; i < 50; i++) c.record(990, 1005);
  assert.ok(c.measuring, 'none of the 50 started inside the measurement');
  for (let i = 0; i < MIN_RTT_SAMPLES; i++) c.record(1000, 1007);
  assert.equal(c.minRtt, 7);
});

test('while latency stays at minRTT the limit grows every window, up to max_limit', () => {
  const run = simulate(OPTIONS, fixed(() => 10), 0.5, 4000);
  const after = between(run, 300, 4000);
  for (let i = 1; i < after.length; i++) assert.ok((after[i] as number) >= (after[i - 1] as number), `never shrinks: ${after.join(',')}`);
  assert.ok((after[0] as number) > 20, 'grows from the initial limit');
  assert.equal(run.controller.limit, 1000, 'reaches max_limit');
  assert.ok(between(run, 0, 4000).every((l) => l <= 1000));
  assert.equal(run.controller.minRtt, 10);
});

test('a latency step up: the limit halves within three windows, falls to min_limit, re-measures minRTT and settles within 5 s', () => {
  const STEP = 3000;
  const run = simulate(OPTIONS, fixed((t) => (t < STEP ? 10 : 40)), 0.5, STEP + 8000);
  const atStep = run.limits.find(([t]) => t === STEP)?.[1] as number;
  assert.equal(atStep, 1000);
  // The first slow answers complete 40 ms after the step; three windows later:
  const soon = run.limits.find(([t]) => t === STEP + 400)?.[1] as number;
  assert.ok(soon < atStep / 2, `limit ${soon} 400 ms after the step (was ${atStep})`);
  assert.ok(between(run, STEP, STEP + 3000).includes(3), 'falls to min_limit: 40 ms is 4 x the old minRTT');
  assert.equal(run.controller.minRtt, 40, 'five windows at min_limit started a new measurement');
  const settled = between(run, STEP + 5000, STEP + 8000);
  assert.ok(settled.every((l) => l === 1000), `settled at max_limit by 5 s after the step: ${settled.join(',')}`);
});

test('a queueing upstream losing half its workers: the limit settles within 5 s near what it can serve, which it serves in full', () => {
  const STEP = 5000;
  // 20 workers of 10 ms (2 requests a ms), then 10 (1 a ms); offered 4 a ms: 2x, then 4x capacity.
  const options = { ...OPTIONS, maxLimit: 200 };
  const run = simulate(options, { servers: (t) => (t < STEP ? 20 : 10), serviceMs: () => 10 }, 4, STEP + 10_000);
  const before = between(run, STEP - 2000, STEP);
  const after = between(run, STEP + 5000, STEP + 10_000);
  const spread = (ls: number[]) => Math.max(...ls) - Math.min(...ls);
  assert.ok(before.every((l) => l >= 20 && l <= 40), `before the step, around 1.25 x 20 workers + headroom: ${before.join(',')}`);
  assert.ok(after.every((l) => l >= 10 && l <= 20), `after, around 1.25 x 10 workers + headroom: ${after.join(',')}`);
  // Settled: a small steady cycle (the window's p90 lags the limit by one window), no trend.
  assert.ok(spread(after) <= 4, `settled: ${after.join(',')}`);
  // Goodput: every settled second serves at least 90 % of the 1000 requests a second 10 workers can.
  for (let s = (STEP + 5000) / 1000; s < (STEP + 10_000) / 1000; s++) {
    assert.ok((run.completedPerSecond[s] as number) >= 900, `second ${s}: ${run.completedPerSecond[s]} completed`);
  }
  assert.ok(run.shed > 0, 'the excess was shed');
});

test('the limit stays within [min_limit, max_limit] under any latencies, and sits at min_limit while measuring', () => {
  const random = mulberry32(17);
  const options = { ...OPTIONS, minLimit: 5, maxLimit: 60, initialLimit: 30, minRttIntervalMs: 1500 };
  let measured = 0;
  let wasMeasuring = false;
  const run = simulate(options, fixed(() => 1 + Math.floor(random() ** 3 * 400)), 2, 20_000, (c) => {
    assert.ok(c.limit >= 5 && c.limit <= 60, `limit ${c.limit}`);
    if (c.measuring) assert.equal(c.limit, 5);
    if (c.measuring && !wasMeasuring) measured++;
    wasMeasuring = c.measuring;
  });
  assert.ok(measured >= 5, `minRTT re-measured every 1.5 s or sooner: ${measured} times`);
  assert.ok(new Set(run.limits.map(([, l]) => l)).size > 3, 'and the limit moved');
});

test('minRTT follows the upstream: re-measured every min_rtt_interval', () => {
  const options = { ...OPTIONS, minRttIntervalMs: 2000 };
  const run = simulate(options, fixed((t) => (t < 1000 ? 20 : 5)), 0.5, 4000);
  assert.equal(run.controller.minRtt, 5, 'the measurement about 2 s in saw the faster upstream');
});

test('admission by band: suspicious fills half the limit, normal 90 %, trusted all of it', () => {
  const fixedLimit = { ...OPTIONS, minLimit: 10, maxLimit: 10, initialLimit: 10 };
  const fill = (band: 'trusted' | 'normal' | 'suspicious'): number => {
    const r = new RouteConcurrency(fixedLimit, 0);
    let n = 0;
    while (r.tryAcquire(band, n) && n < 100) n++;
    return n;
  };
  assert.deepEqual([fill('suspicious'), fill('normal'), fill('trusted')], [5, 9, 10]);

  const r = new RouteConcurrency(fixedLimit, 0);
  for (let i = 0; i < 5; i++) assert.ok(r.tryAcquire('normal', 0));
  assert.equal(r.tryAcquire('suspicious', 1), false, 'half full: suspicious shed, normal still admitted');
  assert.ok(r.tryAcquire('normal', 1));
  r.release(0, 20, true);
  r.release(0, 20, false);
  assert.equal(r.inFlight, 4, 'a release gives one slot back, completed or not');
  assert.ok(r.tryAcquire('suspicious', 21));
});

test('no state admits a band while refusing a more trusted one', () => {
  for (let limit = 1; limit <= 60; limit++) {
    for (let inFlight = 0; inFlight <= 70; inFlight++) {
      const [s, n, t] = (['suspicious', 'normal', 'trusted'] as const).map((b) => admits(inFlight, limit, BAND_SHARES[b]));
      assert.ok(!s || n, `limit ${limit}, ${inFlight} in flight: suspicious admitted, normal refused`);
      assert.ok(!n || t, `limit ${limit}, ${inFlight} in flight: normal admitted, trusted refused`);
    }
  }
});

test('the band a request is admitted as: only enforced assessments count', () => {
  const risk = (band: Assessment['band']): Assessment => ({ score: 50, band, limitFactor: 1, top: [], reason: undefined });
  assert.equal(admissionBand(undefined, true), 'normal');
  assert.equal(admissionBand(risk('suspicious'), true), 'suspicious');
  assert.equal(admissionBand(risk('trusted'), true), 'trusted');
  assert.equal(admissionBand(risk('suspicious'), false), 'normal', 'shadow mode changes nothing a client sees');
  assert.equal(admissionBand(risk('blocked'), true), 'suspicious');
});

test('config: off by default, true takes the defaults, an object its own values', () => {
  const yaml = (extra: string) => `routes:\n  - path: /a\n    upstream: http://127.0.0.1:1\n${extra}`;
  assert.equal(parseConfig(yaml(''), 't.yaml', {}).routes[0]?.adaptiveConcurrency, null);
  assert.equal(parseConfig(yaml('    adaptive_concurrency: false\n'), 't.yaml', {}).routes[0]?.adaptiveConcurrency, null);
  assert.deepEqual(parseConfig(yaml('    adaptive_concurrency: true\n'), 't.yaml', {}).routes[0]?.adaptiveConcurrency, OPTIONS);
  const own = parseConfig(yaml('    adaptive_concurrency: { min_limit: 2, max_limit: 50, initial_limit: 10, sample_window: 250ms, min_rtt_interval: 30s, buffer: 0.5 }\n'), 't.yaml', {});
  assert.deepEqual(own.routes[0]?.adaptiveConcurrency, { minLimit: 2, maxLimit: 50, initialLimit: 10, sampleWindowMs: 250, minRttIntervalMs: 30_000, buffer: 0.5 });
});

test('a reload keeps a route\'s limiter when its parameters are unchanged; the gauge shows the serving config\'s routes only', async () => {
  const registry = new Registry();
  assert.equal(concurrencyRoutesFor(registry, false), undefined, 'no series until a config uses it');
  const routes = concurrencyRoutesFor(registry, true) as NonNullable<ReturnType<typeof concurrencyRoutesFor>>;
  assert.equal(concurrencyRoutesFor(registry, false), routes);
  const a = routes.prepare('a', OPTIONS, 0);
  const b = routes.prepare('b', OPTIONS, 0);
  routes.publish([{ key: 'a', route: '/a', limiter: a }, { key: 'b', route: '/b', limiter: b }]);
  assert.match(await registry.metrics(), /throttlegate_route_concurrency_limit\{route="\/b"\} 20/);
  assert.equal(routes.prepare('a', { ...OPTIONS }, 5), a, 'same route, same parameters: the same limiter');
  assert.notEqual(routes.prepare('b', { ...OPTIONS, maxLimit: 50 }, 5), b, 'new parameters: a new limiter');
  routes.publish([{ key: 'a', route: '/a', limiter: a }]);
  const text = await registry.metrics();
  assert.match(text, /throttlegate_route_concurrency_limit\{route="\/a"\} 20/);
  assert.doesNotMatch(text, /route="\/b"/, 'a route the reload removed has no limit any more');
  routes.metrics.countShed('/a', 'suspicious');
  assert.match(await registry.metrics(), /throttlegate_shed_total\{route="\/a",band="suspicious"\} 1/);
});

test('once a band is shed, every less trusted band is shed for a sample window, even when a slot frees: the capacity goes to the trusted first', () => {
  const fixedLimit = { ...OPTIONS, minLimit: 10, maxLimit: 10, initialLimit: 10 };
  const r = new RouteConcurrency(fixedLimit, 0);
  for (let i = 0; i < 9; i++) assert.ok(r.tryAcquire('normal', 0));
  assert.equal(r.tryAcquire('normal', 1), false, '90 % full: normal shed');
  for (let i = 0; i < 6; i++) r.release(0, 2, true);
  assert.equal(r.inFlight, 3, 'room again for suspicious by the shares alone (3 < 5)');
  const window = fixedLimit.sampleWindowMs;
  assert.equal(r.tryAcquire('suspicious', 2), false, 'but a normal request was shed a moment ago');
  assert.equal(r.tryAcquire('suspicious', 1 + window - 1), false, 'for the rest of the sample window');
  assert.ok(r.tryAcquire('normal', 3), 'normal itself is admitted as soon as it fits');
  assert.ok(r.tryAcquire('suspicious', 1 + window), 'after the window, the shares decide again');
  // Shedding suspicious holds back no one more trusted.
  const s = new RouteConcurrency(fixedLimit, 0);
  for (let i = 0; i < 5; i++) assert.ok(s.tryAcquire('suspicious', 0));
  assert.equal(s.tryAcquire('suspicious', 1), false);
  assert.ok(s.tryAcquire('normal', 1) && s.tryAcquire('trusted', 1));
});
