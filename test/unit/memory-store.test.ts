import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/limit/stores/memory.js';
import { CONTRACT_START, runStoreContract } from './store-contract.js';
import { checkOf, single, spec } from '../helpers/limits.js';

function clockedStore(maxKeys = 1000, sweepIntervalMs = 1000) {
  let now = CONTRACT_START;
  const store = new MemoryStore({ maxKeys, sweepIntervalMs }, { clock: () => now, autoSweep: false });
  return { store, advance: (ms: number) => void (now += ms), close: () => store.close() };
}

runStoreContract('memory', async () => clockedStore());

test('sweeping forgets only states that decide as a new client would (lossless)', () => {
  const { store, advance } = clockedStore();
  const p = spec('sweep', { rate: 1, capacity: 5 });
  store.check(single(p, 'idle')); // full again after 1 s
  for (let i = 0; i < 5; i++) store.check(single(p, 'busy')); // full again after 5 s
  assert.equal(store.size(), 2);
  advance(1000);
  store.sweep();
  assert.equal(store.size(), 1, 'the refilled bucket is gone');
  const busy = store.check(single(p, 'busy'));
  assert.equal(busy.allowed, true, 'one token refilled in 1 s');
  assert.equal(busy.steps[0]!.remaining, 0, 'the busy bucket kept its state through the sweep');
  assert.equal(store.check(single(p, 'idle')).steps[0]!.remaining, 4, 'a forgotten bucket is a full bucket');
});

test('sweeping forgets ended windows and released concurrency slots, never a held slot', () => {
  const { store, advance } = clockedStore();
  const window = spec('sweep-window', { algorithm: 'fixed_window', capacity: 3, windowMs: 1000 });
  const slots = spec('sweep-slots', { algorithm: 'concurrency', capacity: 3 });
  store.check(single(window, 'w'));
  const held = store.check(single(slots, 's'));
  const released = store.check(single(slots, 't'));
  released.release!();
  assert.equal(store.size(), 2, 'a slot released to zero is forgotten at once');
  advance(10_000);
  store.sweep();
  assert.equal(store.size(), 1, 'the window ended; the held slot stays however long');
  held.release!();
  assert.equal(store.size(), 0);
});

test('at the cap a new client is refused (reason capacity) and no held state is evicted', () => {
  const { store } = clockedStore(3, 1000);
  const p = spec('cap', { rate: 1, capacity: 2 });
  store.check(single(p, 'victim'));
  store.check(single(p, 'victim'));
  assert.equal(store.check(single(p, 'victim')).allowed, false, 'victim is over its limit');
  store.check(single(p, 'flood-1'));
  store.check(single(p, 'flood-2'));
  assert.equal(store.size(), 3);
  const newcomer = store.check(single(p, 'flood-3'));
  assert.equal(newcomer.allowed, false);
  assert.equal(newcomer.reason, 'capacity');
  assert.ok(newcomer.steps[0]!.retryAfterMs >= 1000);
  assert.equal(store.size(), 3, 'memory stays flat');
  assert.equal(store.check(single(p, 'victim')).allowed, false, 'a flood of other keys cannot reset the victim');
});

test('at the cap, a check needing two new states is refused whole', () => {
  const { store } = clockedStore(3, 1000);
  const a = spec('cap-a', { rate: 1, capacity: 2 });
  const b = spec('cap-b', { rate: 1, capacity: 2 });
  store.check(single(a, 'x'));
  store.check(single(a, 'y'));
  const two = store.check(checkOf('g', [a, b], ['z', 'z']));
  assert.equal(two.reason, 'capacity');
  assert.equal(store.size(), 2, 'neither state was stored');
});

test('at the cap, states that went idle are reclaimed for newcomers', () => {
  const { store, advance } = clockedStore(2, 1000);
  const p = spec('reclaim', { rate: 1, capacity: 1 });
  store.check(single(p, 'a'));
  store.check(single(p, 'b'));
  assert.equal(store.check(single(p, 'c')).reason, 'capacity');
  advance(1000); // a and b are full again
  const c = store.check(single(p, 'c'));
  assert.equal(c.allowed, true);
  assert.equal(store.size(), 2, 'one idle state forgotten to make room; the other is left to the sweeper');
});

test('100k distinct clients occupy one slot each', () => {
  const { store } = clockedStore(200_000);
  const p = spec('many', { rate: 1, capacity: 10 });
  for (let i = 0; i < 100_000; i++) store.check(single(p, `key-${i}`));
  assert.equal(store.size(), 100_000);
});

test('a reload that raises a limit under the same id: forgetting follows the new numbers', () => {
  const { store, advance } = clockedStore();
  const before = spec('reloaded', { rate: 1, capacity: 2 });
  const after = spec('reloaded', { rate: 1, capacity: 10 });
  store.check(single(before, 'c'));
  store.check(single(before, 'c')); // empty: full again in 2 s under the old numbers
  assert.equal(store.check(single(after, 'c')).steps[0]!.remaining, 0, 'state carried over to the new numbers');
  advance(2000);
  store.sweep();
  // Under the new capacity the bucket holds 2 of 10 tokens: not idle, so not forgotten (that would hand out 10).
  assert.equal(store.check(single(after, 'c')).steps[0]!.remaining, 1);
  const other = spec('reloaded', { algorithm: 'fixed_window', rate: 1, capacity: 5, windowMs: 1000 });
  assert.equal(store.check(single(other, 'c')).steps[0]!.remaining, 4, 'a new algorithm starts afresh');
});

test('at the cap, a newcomer is served as soon as a state goes idle, even right after one was refused (no wait for a sweep)', () => {
  const { store, advance } = clockedStore(2, 3_600_000);
  const p = spec('cap-due', { rate: 1, capacity: 1 });
  store.check(single(p, 'a'));
  store.check(single(p, 'b'));
  const refused = store.check(single(p, 'c'));
  assert.equal(refused.reason, 'capacity');
  assert.equal(refused.steps[0]!.retryAfterMs, 1000, 'until the earliest state goes idle');
  advance(1000); // a and b are full again: they tell nothing a missing state would not
  assert.equal(store.check(single(p, 'c')).allowed, true);
  assert.equal(store.check(single(p, 'd')).allowed, true);
  assert.equal(store.size(), 2);
});

test('at the cap, only idle states are forgotten, earliest first and no more than needed; one that still limits stays', () => {
  const { store, advance } = clockedStore(3, 3_600_000);
  const fast = spec('cap-fast', { rate: 1, capacity: 1 }); // idle 1 s after a request
  const slow = spec('cap-slow', { rate: 0.001, capacity: 1 }); // idle 1000 s after one
  store.check(single(fast, 'a'));
  store.check(single(fast, 'b'));
  store.check(single(slow, 'victim'));
  assert.equal(store.check(single(slow, 'victim')).allowed, false, 'the victim spent its budget');
  advance(2000);
  assert.equal(store.check(single(slow, 'x')).allowed, true);
  assert.equal(store.size(), 3, 'one idle state forgotten for one newcomer, the other kept');
  assert.equal(store.check(single(slow, 'y')).allowed, true);
  const z = store.check(single(slow, 'z'));
  assert.equal(z.reason, 'capacity', 'every state left still limits someone');
  assert.ok(Math.abs(z.steps[0]!.retryAfterMs - 998_000) < 1, `until the victim's bucket is full again: ${z.steps[0]!.retryAfterMs}`);
  assert.equal(store.check(single(slow, 'victim')).allowed, false, 'the victim is still limited');
});

test('at the cap, a state spent again since the queue was built is judged by its state now, not its old idle instant', () => {
  const { store, advance } = clockedStore(2, 3_600_000);
  const p = spec('cap-rekey', { rate: 1, capacity: 2 });
  store.check(single(p, 'a')); // 1 token left: full at 1000
  store.check(single(p, 'b')); // full at 1000
  assert.equal(store.check(single(p, 'c')).reason, 'capacity', 'builds the queue: a and b due at 1000');
  advance(900);
  store.check(single(p, 'a')); // 1.9 - 1 = 0.9 tokens: full at 2000 now
  advance(100);
  assert.equal(store.check(single(p, 'c')).allowed, true, 'b is idle and forgotten');
  assert.equal(store.check(single(p, 'd')).reason, 'capacity', 'a is not idle: it was not forgotten');
  assert.equal(store.check(single(p, 'a')).steps[0]!.remaining, 0, "a kept its 1 token (a forgotten bucket would have 2)");
});

test("at the cap, a check's own idle state is not forgotten to make room for itself: the cap holds exactly", () => {
  const { store, advance } = clockedStore(2, 3_600_000);
  const p = spec('cap-own-p', { rate: 1, capacity: 1 });
  const q = spec('cap-own-q', { rate: 1, capacity: 1 });
  store.check(single(p, 'x')); // idle at 1000
  advance(500);
  store.check(single(p, 'y')); // idle at 1500
  advance(1500);
  assert.equal(store.check(checkOf('own', [p, q], ['x', 'x'])).allowed, true, "y's idle state makes room for x's new one");
  assert.equal(store.size(), 2);
});

test('a reload that lowers a limit makes states idle sooner: a full store follows the numbers now in force', () => {
  const { store } = clockedStore(2, 3_600_000);
  const before = spec('cap-reload', { rate: 1, capacity: 10 });
  store.check(single(before, 'a')); // 9 of 10 tokens
  store.check(single(before, 'b'));
  assert.equal(store.check(single(before, 'c')).reason, 'capacity');
  const after = spec('cap-reload', { rate: 1, capacity: 9 }); // 9 of 9: full, so idle now
  assert.equal(store.check(single(after, 'c')).allowed, true);
});

test('each capacity refusal is reported (the metric and warn line hang on it); a limit of its own is not', () => {
  let now = CONTRACT_START;
  let reported = 0;
  const store = new MemoryStore({ maxKeys: 1, sweepIntervalMs: 1000 }, { clock: () => now, autoSweep: false, onCapacityRefusal: () => reported++ });
  const p = spec('cap-report', { rate: 0.001, capacity: 1 });
  store.check(single(p, 'a'));
  store.check(single(p, 'a'));
  assert.equal(reported, 0, "a's own refusal is its limit's, not the store's");
  store.check(single(p, 'b'));
  store.check(single(p, 'c'));
  assert.equal(store.check(single(p, 'd'), { dryRun: true }).allowed, true, 'a dry run stores nothing, so needs no room');
  assert.equal(reported, 2);
  now += 1_000_000;
  assert.equal(store.check(single(p, 'b')).allowed, true);
  assert.equal(reported, 2);
  void store.close();
});
