import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AlgorithmName } from '../../src/limit/algorithms/types.js';
import type { LimitCheck, LimitOutcome, LimitStore } from '../../src/limit/stores/store.js';
import { checkOf, single, spec } from '../helpers/limits.js';

/** Every contract store's clock starts here: a UTC midnight, so fixed windows of 1 s to 1 d start at 0. */
export const CONTRACT_START = Date.UTC(2026, 0, 1);

export interface ContractStore {
  store: LimitStore;
  /** Moves the store's clock forward (an injected clock: no sleeping). */
  advance(ms: number): void;
  close(): Promise<void>;
}

/**
 * The conformance suite: scripted timelines with exact allowed counts,
 * Retry-After, Reset and boundary instants, per algorithm, plus the rules of a
 * check of several limits. Run against every store (memory, Redis) so both
 * decide exactly alike.
 */
export function runStoreContract(name: string, newStore: () => Promise<ContractStore>): void {
  let ids = 0;
  // A fresh limit id per test: stores shared between tests never see each other's state.
  const id = (what: string) => `${what}-${++ids}`;
  const run = async (s: LimitStore, c: LimitCheck): Promise<LimitOutcome> => s.check(c);
  const times = async (s: LimitStore, c: LimitCheck, n: number) => {
    const out: LimitOutcome[] = [];
    for (let i = 0; i < n; i++) out.push(await run(s, c));
    return out;
  };
  async function fresh(t: { after(fn: () => Promise<void>): void }) {
    const cs = await newStore();
    t.after(() => cs.close());
    return cs;
  }

  for (const algorithm of ['token_bucket', 'gcra'] as AlgorithmName[]) {
    test(`${name}: ${algorithm}: burst, then refusal with exact waits; a token at exactly 1 / rate`, async (t) => {
      const { store, advance } = await fresh(t);
      const c = single(spec(id(algorithm), { algorithm, rate: 5, capacity: 10 }), 'alice');
      const burst = await times(store, c, 11);
      assert.deepEqual(burst.map((o) => o.allowed), [...Array(10).fill(true), false]);
      assert.deepEqual(burst.slice(0, 10).map((o) => o.steps[0]!.remaining), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
      assert.equal(burst[9]!.steps[0]!.resetMs, 2000, '10 tokens at 5/s');
      assert.equal(burst[10]!.steps[0]!.retryAfterMs, 200);
      advance(199);
      const early = await run(store, c);
      assert.equal(early.allowed, false);
      assert.ok(Math.abs(early.steps[0]!.retryAfterMs - 1) < 1e-6, `1 ms left: ${early.steps[0]!.retryAfterMs}`);
      advance(1);
      assert.equal((await run(store, c)).allowed, true, 'the boundary instant has the token');
      assert.equal((await run(store, c)).allowed, false);
    });

    test(`${name}: ${algorithm}: fractional rate, cost, and refill to full`, async (t) => {
      const { store, advance } = await fresh(t);
      const slow = single(spec(id(algorithm), { algorithm, rate: 0.5, capacity: 3 }), 'c');
      assert.deepEqual((await times(store, slow, 4)).map((o) => o.allowed), [true, true, true, false]);
      const refused = await run(store, slow);
      assert.equal(refused.steps[0]!.retryAfterMs, 2000);
      assert.equal(refused.steps[0]!.resetMs, 6000);
      advance(6000);
      assert.equal((await run(store, slow)).steps[0]!.remaining, 2, 'full again after capacity / rate');
      const costly = single(spec(id(algorithm), { algorithm, rate: 5, capacity: 10 }), 'c', 3);
      const seen = await times(store, costly, 4);
      assert.deepEqual(seen.map((o) => o.allowed), [true, true, true, false]);
      assert.deepEqual(seen.slice(0, 3).map((o) => o.steps[0]!.remaining), [7, 4, 1]);
      assert.equal(seen[3]!.steps[0]!.retryAfterMs, 400, '2 more tokens at 5/s');
    });
  }

  test(`${name}: fixed_window: limit per window, reset at the window's end, a new window at the boundary`, async (t) => {
    const { store, advance } = await fresh(t);
    const c = single(spec(id('fixed'), { algorithm: 'fixed_window', rate: 3, capacity: 3, windowMs: 1000 }), 'c');
    advance(250);
    const seen = await times(store, c, 4);
    assert.deepEqual(seen.map((o) => o.allowed), [true, true, true, false]);
    assert.deepEqual(seen.map((o) => o.steps[0]!.remaining), [2, 1, 0, 0]);
    assert.equal(seen[3]!.steps[0]!.retryAfterMs, 750);
    assert.equal(seen[0]!.steps[0]!.resetMs, 750);
    advance(749);
    assert.equal((await run(store, c)).steps[0]!.retryAfterMs, 1);
    advance(1);
    const next = await run(store, c);
    assert.equal(next.allowed, true, 'a new window at its first instant');
    assert.equal(next.steps[0]!.remaining, 2);
  });

  test(`${name}: fixed_window: a day-long window and cost`, async (t) => {
    const { store, advance } = await fresh(t);
    const c = single(spec(id('daily'), { algorithm: 'fixed_window', rate: 10 / 86_400, capacity: 10, windowMs: 86_400_000 }), 'c', 4);
    assert.deepEqual((await times(store, c, 3)).map((o) => o.allowed), [true, true, false]);
    advance(3_600_000);
    const refused = await run(store, c);
    assert.equal(refused.steps[0]!.remaining, 2);
    assert.equal(refused.steps[0]!.retryAfterMs, 82_800_000, 'until the next UTC midnight');
  });

  test(`${name}: sliding_window: the previous window weighs in as it slides out`, async (t) => {
    const { store, advance } = await fresh(t);
    const c = single(spec(id('sliding'), { algorithm: 'sliding_window', rate: 10, capacity: 10, windowMs: 1000 }), 'c');
    const first = await times(store, c, 11);
    assert.equal(first.filter((o) => o.allowed).length, 10);
    // Next window: 10 * (1000 - e) / 1000 + 1 <= 10 from e = 100.
    assert.equal(first[10]!.steps[0]!.retryAfterMs, 1100);
    advance(1099);
    assert.equal((await run(store, c)).allowed, false);
    advance(1);
    const at1100 = await run(store, c);
    assert.equal(at1100.allowed, true, 'estimate 9 + 1 at the boundary instant');
    const again = await run(store, c);
    assert.equal(again.allowed, false);
    assert.ok(Math.abs(again.steps[0]!.retryAfterMs - 100) < 1e-6, `the previous window fades 1 per 100 ms: ${again.steps[0]!.retryAfterMs}`);
    advance(900); // t = 2000: the window of 10 is two windows back
    const later = await times(store, c, 3);
    assert.deepEqual(later.map((o) => o.allowed), [true, true, true]);
    assert.equal(later[2]!.steps[0]!.remaining, 6, 'the previous window held 1: 1 + 3 of 10 taken');
  });

  test(`${name}: sliding_window: allowed counts over a scripted minute`, async (t) => {
    const { store, advance } = await fresh(t);
    const c = single(spec(id('sliding-min'), { algorithm: 'sliding_window', rate: 1, capacity: 60, windowMs: 60_000 }), 'c');
    let allowed = 0;
    // 4 requests a second for 120 s. The first window admits 60 in its first 15 s. In the second the
    // estimate is 60 - e + current (e in s), so the n-th is admitted at e = n: 59 more, at 1 s .. 59 s.
    for (let i = 0; i < 480; i++) {
      if ((await run(store, c)).allowed) allowed++;
      advance(250);
    }
    assert.equal(allowed, 119);
  });

  test(`${name}: a cost above a window's limit (config validation refuses it) is refused with a finite wait`, async (t) => {
    const { store, advance } = await fresh(t);
    advance(250);
    const sliding = await run(store, single(spec(id('over-sliding'), { algorithm: 'sliding_window', rate: 2, capacity: 2, windowMs: 1000 }), 'c', 3));
    assert.deepEqual([sliding.allowed, sliding.steps[0]!.retryAfterMs], [false, 1750], 'the end of the next window');
    const fixed = await run(store, single(spec(id('over-fixed'), { algorithm: 'fixed_window', rate: 2, capacity: 2, windowMs: 1000 }), 'c', 3));
    assert.deepEqual([fixed.allowed, fixed.steps[0]!.retryAfterMs], [false, 750], 'the end of this window');
  });

  test(`${name}: concurrency: slots are taken, refused at capacity, and given back once`, async (t) => {
    const { store } = await fresh(t);
    const c = single(spec(id('conc'), { algorithm: 'concurrency', rate: 0, capacity: 2, windowMs: 0 }), 'c');
    const a = await run(store, c);
    const b = await run(store, c);
    const refused = await run(store, c);
    assert.deepEqual([a.allowed, b.allowed, refused.allowed], [true, true, false]);
    assert.deepEqual([a.steps[0]!.remaining, b.steps[0]!.remaining], [1, 0]);
    assert.equal(refused.steps[0]!.retryAfterMs, 1000);
    assert.equal(refused.release, undefined, 'a refused request holds nothing');
    a.release!();
    a.release!(); // idempotent: a second release must not free b's slot
    const c1 = await run(store, c);
    assert.equal(c1.allowed, true);
    assert.equal((await run(store, c)).allowed, false, 'one slot came back, not two');
    b.release!();
    c1.release!();
  });

  test(`${name}: several limits: a refused request consumes from none`, async (t) => {
    const { store, advance } = await fresh(t);
    const bucket = spec(id('multi-bucket'), { rate: 1, capacity: 5 });
    const window = spec(id('multi-window'), { algorithm: 'fixed_window', rate: 2, capacity: 2, windowMs: 1000 });
    const c = checkOf(id('group'), [bucket, window], ['c', 'c']);
    const seen = await times(store, c, 4);
    assert.deepEqual(seen.map((o) => o.allowed), [true, true, false, false]);
    assert.deepEqual(seen[2]!.steps.map((s) => s.allowed), [true, false], 'the bucket alone would allow');
    advance(1000);
    const next = await run(store, c);
    assert.equal(next.allowed, true);
    // 5 - 2 taken + 1 refilled - 1 now: had the refusals consumed, this would be 1.
    assert.equal(next.steps[0]!.remaining, 3);
    assert.equal((await run(store, single(bucket, 'c'))).steps[0]!.remaining, 2, 'the bucket state alone agrees');
  });

  test(`${name}: several limits: scope keys share one budget across clients`, async (t) => {
    const { store } = await fresh(t);
    const perClient = spec(id('per-client'), { rate: 1, capacity: 3 });
    const perRoute = spec(id('per-route'), { rate: 1, capacity: 4, scope: 'route' });
    const forClient = (client: string) => checkOf(id('scoped'), [perClient, perRoute], [client, 'route:/api']);
    const a = await times(store, forClient('alice'), 3);
    const b = await times(store, forClient('bob'), 2);
    assert.deepEqual(a.map((o) => o.allowed), [true, true, true]);
    assert.deepEqual(b.map((o) => o.allowed), [true, false], 'the route budget of 4 is shared');
    assert.deepEqual(b[1]!.steps.map((s) => s.allowed), [true, false]);
  });

  test(`${name}: shadow limits never refuse and store only what they allowed`, async (t) => {
    const { store } = await fresh(t);
    const shadow = spec(id('shadow'), { rate: 1, capacity: 1, mode: 'shadow' });
    const enforced = spec(id('enforced'), { rate: 1, capacity: 3 });
    const c = checkOf(id('shadowed'), [shadow, enforced], ['c', 'c']);
    const seen = await times(store, c, 4);
    assert.deepEqual(seen.map((o) => o.allowed), [true, true, true, false]);
    assert.deepEqual(seen.map((o) => o.steps[0]!.allowed), [true, false, false, false], 'the shadow limit would refuse from the second');
    assert.deepEqual(seen.slice(0, 3).map((o) => o.steps[1]!.remaining), [2, 1, 0]);
  });

  test(`${name}: a dry run decides as a real check would and stores nothing`, async (t) => {
    const { store } = await fresh(t);
    const bucket = spec(id('dry-bucket'), { rate: 1, capacity: 2 });
    const slots = spec(id('dry-slots'), { algorithm: 'concurrency', rate: 0, capacity: 1, windowMs: 0 });
    const c = checkOf(id('dry'), [bucket, slots], ['c', 'c']);
    for (let i = 0; i < 3; i++) {
      const peek = await store.check(c, { dryRun: true });
      assert.deepEqual([peek.allowed, peek.steps[0]!.remaining, peek.steps[1]!.remaining], [true, 1, 0], 'nothing was taken by the peek before');
      assert.equal(peek.release, undefined, 'a dry run holds no slot');
    }
    const real = await run(store, c);
    assert.equal(real.steps[0]!.remaining, 1);
    const blocked = await store.check(c, { dryRun: true });
    assert.deepEqual([blocked.allowed, blocked.steps[1]!.allowed], [false, false], 'the real check holds the one slot');
    real.release!();
  });

  test(`${name}: clients and limits are isolated`, async (t) => {
    const { store } = await fresh(t);
    const p = spec(id('iso-a'), { rate: 1, capacity: 1 });
    const q = spec(id('iso-b'), { rate: 1, capacity: 1 });
    assert.equal((await run(store, single(p, 'alice'))).allowed, true);
    assert.equal((await run(store, single(p, 'alice'))).allowed, false);
    assert.equal((await run(store, single(p, 'bob'))).allowed, true, 'another client has its own state');
    assert.equal((await run(store, single(q, 'alice'))).allowed, true, 'another limit has its own state');
  });
}
