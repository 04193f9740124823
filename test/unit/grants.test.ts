import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, holdable } from '../../src/limit/stores/memory.js';
import { FORGET_MS, GRANT_MS, GrantBook, MAX_GRANT, MIN_GRANT, grantSize } from '../../src/cluster/grants.js';
import { Allowances } from '../../src/cluster/allowances.js';
import type { LimitSpec } from '../../src/limit/algorithms/types.js';
import type { LimitCheck } from '../../src/limit/stores/store.js';
import { checkOf, single, spec } from '../helpers/limits.js';

const T0 = Date.UTC(2026, 0, 1);

function clocked() {
  let now = T0;
  const clock = () => now;
  const store = new MemoryStore({ maxKeys: 10_000, sweepIntervalMs: 1000 }, { clock, autoSweep: false });
  return { store, clock, advance: (ms: number) => void (now += ms), at: () => now };
}

const step = (remaining: number) => ({ allowed: true, remaining, resetMs: 0, retryAfterMs: 0 });

test('grantSize: an eighth of what the tightest limit has left, at most MAX_GRANT, none below MIN_GRANT', () => {
  assert.equal(grantSize([step(1_000_000)], 1), MAX_GRANT);
  assert.equal(grantSize([step(800)], 1), 100);
  assert.equal(grantSize([step(800), step(160)], 1), 20, 'the tightest limit decides');
  assert.equal(grantSize([step(800)], 4), 25, 'in requests of the check cost');
  assert.equal(grantSize([step(8 * MIN_GRANT - 1)], 1), 0, 'a client near its limit is decided request by request');
  assert.equal(grantSize([step(8 * MIN_GRANT)], 1), MIN_GRANT);
  assert.equal(grantSize([], 1), 0);
  assert.equal(grantSize([step(800)], 0), 0);
});

test('only enforced buckets can be held out: windows, concurrency and shadow limits cannot', () => {
  assert.equal(holdable([spec('a'), spec('b', { algorithm: 'gcra' })]), true);
  assert.equal(holdable([spec('a'), spec('w', { algorithm: 'fixed_window', windowMs: 1000 })]), false);
  assert.equal(holdable([spec('s', { algorithm: 'sliding_window', windowMs: 1000 })]), false);
  assert.equal(holdable([spec('c', { algorithm: 'concurrency', capacity: 3 })]), false);
  assert.equal(holdable([spec('a', { mode: 'shadow' })]), false);
  assert.equal(holdable([]), false);
  const { store } = clocked();
  const window = spec('w', { algorithm: 'fixed_window', capacity: 100, windowMs: 1000 });
  assert.equal(store.hold(single(window, 'k'), 10).allowed, false);
  assert.equal(store.check(single(window, 'k')).steps[0]!.remaining, 99, 'a refused hold took nothing');
});

for (const algorithm of ['token_bucket', 'gcra'] as const) {
  test(`${algorithm}: held units are taken at once and given back unspent, never above capacity`, () => {
    const { store } = clocked();
    const p = spec(`conserve-${algorithm}`, { algorithm, capacity: 1000, rate: 1e-6 });
    const c = single(p, 'k');
    assert.equal(store.hold(c, 100).allowed, true);
    assert.equal(store.check(c).steps[0]!.remaining, 899, 'the hold took 100');
    store.unhold(c, 100, 40);
    assert.equal(store.check(c).steps[0]!.remaining, 938, '40 given back: 1000 - 60 spent - 2 requests');
    assert.equal(store.hold(c, 2000).allowed, false, 'a hold larger than what is left is refused whole');
    store.unhold(c, 100, 100);
    assert.equal(store.check(c).steps[0]!.remaining, 937, 'a hold already ended gives nothing back twice');
  });

  test(`${algorithm}: a client idle at a full bucket cannot gain a grant on top of its burst`, () => {
    const { store, advance } = clocked();
    const p = spec(`idle-${algorithm}`, { algorithm, capacity: 100, rate: 10 });
    const c = single(p, 'k');
    assert.equal(store.hold(c, 50).allowed, true);
    advance(60_000); // one process would be full, and would stay at 100
    let admitted = 0;
    for (let i = 0; i < 200; i++) if (store.check(c).allowed) admitted++;
    assert.equal(admitted, 50, 'the bucket refilled only to capacity minus the 50 held out');
    store.unhold(c, 50, 0);
    advance(1000);
    assert.equal(store.check(c).steps[0]!.remaining, 9, 'once ended, it refills again: 10 in 1 s, less this request');
  });
}

test('limits whose numbers changed while units were out (a reload, adaptive scaling) are refilled at the new numbers, and nothing is given back', () => {
  const { store, advance } = clocked();
  const before = spec('changed', { capacity: 1000, rate: 100 });
  const after = spec('changed', { capacity: 1000, rate: 1 });
  assert.equal(store.hold(single(before, 'k'), 100).allowed, true);
  let drained = 0;
  while (store.check(single(after, 'k')).allowed) drained++;
  assert.equal(drained, 900, 'the rest of the bucket, under the new numbers');
  advance(1100);
  store.unhold(single(before, 'k'), 100, 100);
  let admitted = 0;
  for (let i = 0; i < 200; i++) if (store.check(single(after, 'k')).allowed) admitted++;
  assert.equal(admitted, 1, '1.1 s at the new 1/s: one request, as one process would allow; not the old rate, not the units back');
});

test('a hold on several limits takes from each, and ends on each', () => {
  const { store } = clocked();
  const a = spec('multi-a', { capacity: 1000, rate: 1e-6 });
  const b = spec('multi-b', { algorithm: 'gcra', capacity: 500, rate: 1e-6 });
  const c: LimitCheck = checkOf('multi', [a, b], ['k', 'route:/api']);
  assert.equal(store.hold(c, 50).allowed, true);
  assert.deepEqual(store.check(c).steps.map((s) => s.remaining), [949, 449]);
  store.unhold(c, 50, 50);
  assert.deepEqual(store.check(c).steps.map((s) => s.remaining), [998, 498]);
});

test('GrantBook: offers only what grantSize allows, gives back unspent units, forgets stale grants as spent', () => {
  const { store, clock, advance } = clocked();
  const book = new GrantBook(store, clock);
  const p = spec('book', { capacity: 10_000, rate: 1e-6 });
  const c = single(p, 'k');
  const first = store.check(c);
  const grant = book.offer(c, first);
  assert.deepEqual(grant, [1, MAX_GRANT]);
  assert.equal(store.check(c).steps[0]!.remaining, 10_000 - 2 - MAX_GRANT);
  book.giveBack(1, MAX_GRANT - 6);
  assert.equal(store.check(c).steps[0]!.remaining, 10_000 - 3 - 6, 'six spent, the rest back');
  book.giveBack(1, MAX_GRANT);
  assert.equal(store.check(c).steps[0]!.remaining, 10_000 - 4 - 6, 'a second give-back of the same grant is ignored');
  const second = book.offer(c, store.check(c));
  assert.ok(second !== undefined);
  advance(FORGET_MS - 1);
  book.forgetStale();
  assert.equal(book.size, 1, 'not yet');
  advance(1);
  book.forgetStale();
  assert.equal(book.size, 0);
  book.giveBack(second[0], second[1]);
  assert.equal(store.check(c).steps[0]!.remaining, 10_000 - 6 - 6 - MAX_GRANT, 'a forgotten grant counts as spent: a late give-back is ignored');
  const third = book.offer(c, store.check(c));
  assert.ok(third !== undefined);
  book.close();
  assert.equal(store.check(c).steps[0]!.remaining, 10_000 - 8 - 6 - 2 * MAX_GRANT, 'a dead worker loses its grants, never gets them back');
  assert.equal(book.offer(single(p, 'small'), { allowed: true, steps: [step(10)] }), undefined, 'too little left: no grant');
});

test('Allowances: asks only for a signature allowed recently, spends locally until the grant runs out or its time ends', () => {
  const a = new Allowances();
  const p = spec('allow', { capacity: 1000, rate: 1e-6 });
  const c = single(p, 'k');
  let now = T0;
  assert.equal(a.wants('s', now), false, 'never seen allowed: no grant asked');
  a.allowed('s', now);
  now += 5;
  assert.equal(a.wants('s', now), true);
  assert.equal(a.wants('s', now), false, 'asked once at a time');
  a.answered('s', c, { allowed: true, steps: [step(990)] }, [7, 3], now);
  assert.equal(a.wants('s', now), false, 'held: no second grant');
  const local = a.spend('s', c, now);
  assert.equal(local?.allowed, true);
  assert.equal(local?.steps[0]!.remaining, 989, "the primary's remaining without the grant, plus what is left of it");
  assert.ok(a.spend('s', c, now));
  assert.ok(a.spend('s', c, now));
  assert.equal(a.returning, true, 'spent out: given back at once (0 unspent) so the primary stops holding it');
  assert.deepEqual(a.takeReturns(), [7, 0]);
  assert.equal(a.spend('s', c, now), undefined, 'gone');
  a.answered('s', c, { allowed: true, steps: [step(990)] }, [8, 10], now);
  assert.ok(a.spend('s', c, now + GRANT_MS - 1));
  assert.equal(a.spend('s', c, now + GRANT_MS), undefined, 'past its time it is not spent');
  assert.deepEqual(a.takeReturns(), [8, 9]);
  a.answered('s', c, { allowed: true, steps: [step(990)] }, [9, 10], now);
  assert.equal(a.spend('s', single(p, 'k', 2), now), undefined, 'another cost is another check');
  assert.deepEqual(a.takeReturns(), [9, 10]);
  a.allowed('old', now);
  now += 2 * GRANT_MS;
  a.allowed('fresh', now);
  assert.equal(a.wants('old', now), false, 'allowed too long ago: not busy');
});

/**
 * The property that makes grants safe: whatever the interleaving of two
 * workers, grants, give-backs and time, every request admitted (locally or
 * by the primary) is one a single bucket would admit at the same instants,
 * so the whole admitted sequence conforms to the limit: never looser.
 */
for (const algorithm of ['token_bucket', 'gcra'] as const) {
  test(`${algorithm}: two workers with grants never admit what one bucket would refuse (random interleavings)`, () => {
    for (let seed = 1; seed <= 20; seed++) {
      const random = lcg(seed);
      const { store, clock, advance, at } = clocked();
      const p: LimitSpec = spec(`prop-${algorithm}-${seed}`, { algorithm, capacity: 400, rate: 200 });
      const c = single(p, 'client');
      const books = [new GrantBook(store, clock), new GrantBook(store, clock)];
      const allowances = [new Allowances(), new Allowances()];
      const admitted: number[] = [];
      let local = 0;
      for (let i = 0; i < 4000; i++) {
        if (random() < 0.2) advance(Math.floor(random() * 12));
        const w = random() < 0.5 ? 0 : 1;
        const mine = allowances[w]!;
        const now = at();
        if (random() < 0.05 && mine.expire(now)) giveBack(books[w]!, mine.takeReturns());
        if (random() < 0.01) books[w]!.forgetStale(now);
        const granted = mine.spend('sig', c, now);
        if (mine.returning) giveBack(books[w]!, mine.takeReturns());
        if (granted !== undefined) {
          admitted.push(now);
          local++;
          continue;
        }
        const asked = mine.wants('sig', now);
        const outcome = store.check(c);
        if (!outcome.allowed) {
          if (asked) mine.answered('sig', c, outcome, undefined, now);
          continue;
        }
        admitted.push(now);
        mine.allowed('sig', now);
        if (asked) mine.answered('sig', c, outcome, books[w]!.offer(c, outcome), now);
      }
      assert.ok(local > 0, `seed ${seed}: some requests were admitted from grants`);
      const { store: single_, advance: advanceRef, at: atRef } = clocked();
      for (const t of admitted) {
        advanceRef(t - atRef());
        assert.equal(single_.check(c).allowed, true, `seed ${seed}: admitted at +${t - T0} ms, which one bucket would refuse`);
      }
    }
  });
}

function giveBack(book: GrantBook, returns: number[] | undefined): void {
  for (let i = 0; returns !== undefined && i < returns.length; i += 2) book.giveBack(returns[i]!, returns[i + 1]!);
}

/** A seeded generator, so a failing interleaving is reproducible. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}
