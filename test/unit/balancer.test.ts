import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createBalancer, type Balanced, type BalanceKind } from '../../src/upstream/balancer.js';

interface Target extends Balanced {
  readonly name: string;
  inFlight: number;
}

const target = (name: string, weight = 1, inFlight = 0): Target => ({ name, weight, inFlight });

/** Picks `n` times from `candidates` and returns the names in order. */
function sequence(kind: BalanceKind, candidates: readonly Target[], n: number): string[] {
  const balancer = createBalancer<Target>(kind);
  return Array.from({ length: n }, () => balancer.pick(candidates)!.name);
}

function counts(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) out[name] = (out[name] ?? 0) + 1;
  return out;
}

function longestRun(names: readonly string[], of: string): number {
  let longest = 0;
  let run = 0;
  for (const name of names) {
    run = name === of ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

/** A random() that returns the scripted values in order, and fails the test if asked for more. */
function scripted(...values: number[]): () => number {
  return () => {
    const value = values.shift();
    assert.notEqual(value, undefined, 'random() called more often than scripted');
    return value!;
  };
}

for (const kind of ['round_robin', 'least_connections', 'random_two'] as const) {
  test(`${kind}: no candidates gives undefined, one candidate gives that one`, () => {
    const balancer = createBalancer<Target>(kind, scripted());
    assert.equal(balancer.pick([]), undefined);
    const only = target('A');
    assert.equal(balancer.pick([only]), only);
  });
}

test('round_robin: weights 3:1 give the smooth order A A B A, repeating', () => {
  const names = sequence('round_robin', [target('A', 3), target('B', 1)], 4000);
  assert.deepEqual(names.slice(0, 8), ['A', 'A', 'B', 'A', 'A', 'A', 'B', 'A']);
  assert.deepEqual(counts(names), { A: 3000, B: 1000 });
  assert.equal(longestRun(names, 'A'), 3, 'never more A in a row than the cycle boundary makes');
  assert.equal(longestRun(names, 'B'), 1);
});

test('round_robin: weights 5:1:1 give nginx order A A B A C A A', () => {
  const names = sequence('round_robin', [target('A', 5), target('B', 1), target('C', 1)], 7000);
  const cycle = ['A', 'A', 'B', 'A', 'C', 'A', 'A'];
  for (let i = 0; i < names.length; i += 7) assert.deepEqual(names.slice(i, i + 7), cycle, `cycle at pick ${i}`);
  assert.deepEqual(counts(names), { A: 5000, B: 1000, C: 1000 });
});

test('round_robin: equal weights alternate in candidate order', () => {
  const names = sequence('round_robin', [target('A'), target('B'), target('C')], 3000);
  assert.deepEqual(names.slice(0, 6), ['A', 'B', 'C', 'A', 'B', 'C']);
  assert.deepEqual(counts(names), { A: 1000, B: 1000, C: 1000 });
});

test('round_robin: a filtered subset keeps an exact split, and a returning target takes part again', () => {
  const a = target('A', 2);
  const b = target('B', 1);
  const c = target('C', 1);
  const balancer = createBalancer<Target>('round_robin');
  const pick = (candidates: Target[], n: number) => Array.from({ length: n }, () => balancer.pick(candidates)!.name);

  assert.deepEqual(counts(pick([a, b, c], 1000)), { A: 500, B: 250, C: 250 });
  const withoutC = pick([a, b], 3000);
  assert.deepEqual(counts(withoutC), { A: 2000, B: 1000 }, 'C left out takes no picks and A:B stays 2:1');
  assert.ok(longestRun(withoutC, 'A') <= 2);
  const back = pick([a, b, c], 4000);
  assert.deepEqual(counts(back), { A: 2000, B: 1000, C: 1000 });
  assert.ok(longestRun(back, 'C') <= 1, 'C is not handed a burst on return');
});

test('round_robin: separate balancers keep separate state', () => {
  const targets = [target('A'), target('B')];
  const first = createBalancer<Target>('round_robin');
  const second = createBalancer<Target>('round_robin');
  assert.equal(first.pick(targets)!.name, 'A');
  assert.equal(second.pick(targets)!.name, 'A');
  assert.equal(first.pick(targets)!.name, 'B');
});

test('least_connections: prefers the lowest inFlight', () => {
  const balancer = createBalancer<Target>('least_connections');
  const busy = target('busy', 1, 5);
  const idle = target('idle', 1, 1);
  const mid = target('mid', 1, 3);
  for (let i = 0; i < 10; i++) assert.equal(balancer.pick([busy, mid, idle]), idle);
  idle.inFlight = 4;
  assert.equal(balancer.pick([busy, mid, idle]), mid);
});

test('least_connections: load is inFlight / weight', () => {
  const balancer = createBalancer<Target>('least_connections');
  const big = target('big', 4, 6); // 1.5
  const small = target('small', 1, 2); // 2
  assert.equal(balancer.pick([small, big]), big);
  big.inFlight = 8; // 2: now a tie, shared by weighted round robin
  const names = Array.from({ length: 5 }, () => balancer.pick([small, big])!.name);
  assert.deepEqual(counts(names), { big: 4, small: 1 });
});

test('least_connections: idle equal targets alternate instead of the first taking all', () => {
  const names = sequence('least_connections', [target('A'), target('B'), target('C')], 3000);
  assert.deepEqual(names.slice(0, 6), ['A', 'B', 'C', 'A', 'B', 'C']);
  assert.deepEqual(counts(names), { A: 1000, B: 1000, C: 1000 });
});

test('least_connections: ties are shared by weight, and only among the tied', () => {
  const names = sequence('least_connections', [target('A', 2), target('busy', 1, 1), target('B', 1)], 3000);
  assert.deepEqual(counts(names), { A: 2000, B: 1000 });
});

test('least_connections: follows load as requests start and finish', () => {
  const a = target('A');
  const b = target('B');
  const balancer = createBalancer<Target>('least_connections');
  const first = balancer.pick([a, b])!;
  first.inFlight++;
  const second = balancer.pick([a, b])!;
  assert.notEqual(second, first, 'the busy one is avoided');
  second.inFlight++;
  second.inFlight++;
  assert.equal(balancer.pick([a, b]), first, 'the less loaded one again');
});

test('random_two: picks the less loaded of the two drawn, not the global least', () => {
  const t = [target('t0', 1, 5), target('t1', 1, 1), target('t2', 1, 3), target('t3', 1, 0)];
  // 0.0 draws t0; 0.4 draws index 1 of the 3 others, skipping t0: t2.
  assert.equal(createBalancer<Target>('random_two', scripted(0.0, 0.4)).pick(t), t[2]);
  // 0.6 draws t2; 0.0 draws t0 (below t2, so not shifted): t2 is the lighter.
  assert.equal(createBalancer<Target>('random_two', scripted(0.6, 0.0)).pick(t), t[2]);
  // 0.3 draws t1; 0.99 draws t3 (index 2 of 3, skipping t1 -> 3).
  assert.equal(createBalancer<Target>('random_two', scripted(0.3, 0.99)).pick(t), t[3]);
});

test('random_two: load is inFlight / weight; a tie goes to the first drawn', () => {
  const big = target('big', 4, 4); // 1
  const small = target('small', 1, 2); // 2
  assert.equal(createBalancer<Target>('random_two', scripted(0.9, 0.0)).pick([big, small]), big);
  const x = target('x', 2, 2);
  const y = target('y', 1, 1);
  assert.equal(createBalancer<Target>('random_two', scripted(0.0, 0.0)).pick([x, y]), x);
  assert.equal(createBalancer<Target>('random_two', scripted(0.9, 0.0)).pick([x, y]), y);
});

test('random_two: the two drawn are always distinct', () => {
  for (const r of [0, 0.2, 0.25, 0.5, 0.74, 0.75, 0.999999]) {
    const t = [target('t0'), target('t1'), target('t2'), target('t3')];
    const heavy = t[Math.floor(r * t.length)]!;
    heavy.inFlight = 100;
    // Both draws use the same r: if they landed on the same index, heavy would win.
    const picked = createBalancer<Target>('random_two', () => r).pick(t);
    assert.notEqual(picked, heavy, `r=${r}`);
  }
});

test('random_two: works on a filtered subset and with the default random', () => {
  const t = [target('t0', 1, 9), target('t1', 1, 0), target('t2', 1, 0)];
  const balancer = createBalancer<Target>('random_two');
  const subset = t.slice(0, 2);
  for (let i = 0; i < 200; i++) assert.equal(balancer.pick(subset), t[1], 'of two, the lighter always wins');
  const seen = new Set(Array.from({ length: 200 }, () => balancer.pick(t)!.name));
  assert.ok(!seen.has('t0'), 'the heaviest of three is never picked');
  assert.deepEqual([...seen].sort(), ['t1', 't2']);
});
