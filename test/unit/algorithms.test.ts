import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALGORITHMS } from '../../src/limit/algorithms/index.js';
import type { AlgorithmName, LimitSpec } from '../../src/limit/algorithms/types.js';
import { spec } from '../helpers/limits.js';

/** A seeded PRNG (mulberry32): the same "random" timeline on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs a timeline of (gap ms, cost) requests through one algorithm; returns its decisions. */
function replay(algorithm: AlgorithmName, limit: LimitSpec, timeline: readonly [number, number][]) {
  const a = ALGORITHMS[algorithm];
  let state: readonly number[] | undefined;
  let now = 1_000_000;
  return timeline.map(([gap, cost]) => {
    now += gap;
    const step = a.step(state, now, limit, cost);
    if (step.allowed) state = step.next;
    return { allowed: step.allowed, remaining: step.remaining, retry: Math.round(step.retryAfterMs * 1000) };
  });
}

test('token_bucket and gcra make the same decisions on 20k random requests (two formulations of one limit)', () => {
  const next = random(42);
  for (const [rate, capacity] of [[5, 10], [0.3, 2], [100, 1], [7, 50]] as const) {
    const timeline: [number, number][] = Array.from({ length: 5000 }, () => [Math.floor(next() * 400), 1 + Math.floor(next() * Math.min(3, capacity))]);
    const bucket = replay('token_bucket', spec('tb', { rate, capacity }), timeline);
    const cell = replay('gcra', spec('gcra', { algorithm: 'gcra', rate, capacity }), timeline);
    assert.deepEqual(cell, bucket, `rate ${rate}, capacity ${capacity}`);
    assert.ok(bucket.some((d) => !d.allowed) && bucket.some((d) => d.allowed), 'the timeline exercises both answers');
  }
});

test('a state past its idleAt decides exactly as no state would (why stores may forget it)', () => {
  const limits: LimitSpec[] = [
    spec('tb', { rate: 2, capacity: 4 }),
    spec('gcra', { algorithm: 'gcra', rate: 2, capacity: 4 }),
    spec('fw', { algorithm: 'fixed_window', rate: 4, capacity: 4, windowMs: 1000 }),
    spec('sw', { algorithm: 'sliding_window', rate: 4, capacity: 4, windowMs: 1000 }),
  ];
  for (const limit of limits) {
    const a = ALGORITHMS[limit.algorithm];
    let state: readonly number[] | undefined;
    for (let i = 0; i < 3; i++) state = a.step(state, 10_000 + i, limit, 1).next;
    const idle = a.idleAt(state!, limit);
    assert.ok(idle > 10_000 && Number.isFinite(idle), `${limit.algorithm}: ${idle}`);
    const kept = a.step(state, idle, limit, 1);
    const forgotten = a.step(undefined, idle, limit, 1);
    assert.deepEqual([kept.allowed, kept.remaining], [forgotten.allowed, forgotten.remaining], limit.algorithm);
    // Float refill may land a hair under full: the same to a microsecond, and to the header second.
    assert.ok(Math.abs(kept.resetMs - forgotten.resetMs) < 1e-6, `${limit.algorithm}: ${kept.resetMs} vs ${forgotten.resetMs}`);
    assert.notDeepEqual(a.step(state, 10_002, limit, 1).remaining, a.step(undefined, 10_002, limit, 1).remaining, `${limit.algorithm}: not idle before`);
  }
});

test('fixed_window never admits more than the limit in one window; sliding_window stays within its documented bound', () => {
  const next = random(7);
  const limit = 20;
  const windowMs = 1000;
  const admitted: Record<string, number[]> = { fixed_window: [], sliding_window: [] };
  for (const algorithm of ['fixed_window', 'sliding_window'] as const) {
    const l = spec(algorithm, { algorithm, rate: limit, capacity: limit, windowMs });
    const a = ALGORITHMS[algorithm];
    let state: readonly number[] | undefined;
    let now = 0;
    // Bursty traffic: quiet stretches, then floods, so window edges get tested.
    for (let i = 0; i < 20_000; i++) {
      now += next() < 0.9 ? Math.floor(next() * 3) : Math.floor(next() * 900);
      const step = a.step(state, now, l, 1);
      if (step.allowed) {
        state = step.next;
        admitted[algorithm]!.push(now);
      }
    }
  }
  const maxIn = (times: number[], from: (t: number) => number) => {
    let max = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while ((times[j] as number) < from(times[i] as number)) j++;
      max = Math.max(max, i - j + 1);
    }
    return max;
  };
  const perFixedWindow = (times: number[]) => Math.max(...Object.values(times.reduce<Record<number, number>>((acc, t) => ((acc[Math.floor(t / windowMs)] = (acc[Math.floor(t / windowMs)] ?? 0) + 1), acc), {})));
  assert.equal(perFixedWindow(admitted.fixed_window!), limit);
  assert.equal(perFixedWindow(admitted.sliding_window!), limit, 'each fixed window of the sliding counter admits at most the limit');
  const slidingMax = maxIn(admitted.sliding_window!, (t) => t - windowMs + 1);
  const fixedMax = maxIn(admitted.fixed_window!, (t) => t - windowMs + 1);
  assert.ok(slidingMax < 2 * limit, `any sliding window: ${slidingMax} < 2 x ${limit}`);
  assert.equal(fixedMax, 2 * limit, 'the fixed window lets a full budget through on each side of an edge');
  assert.ok(slidingMax < fixedMax, 'the sliding counter smooths the edge burst');
});
