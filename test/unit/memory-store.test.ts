import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/limit/stores/memory.js';
import { policy, runStoreContract } from './store-contract.js';

function clockedStore(maxKeys = 1000, sweepIntervalMs = 1000) {
  let now = 1_000_000;
  const store = new MemoryStore({ maxKeys, sweepIntervalMs }, { clock: () => now, autoSweep: false });
  return { store, advance: (ms: number) => void (now += ms), close: () => store.close() };
}

runStoreContract('memory', async () => clockedStore());

test('sweeping forgets only buckets that are full again (lossless)', () => {
  const { store, advance } = clockedStore();
  const p = policy('sweep', 1, 5);
  store.consume(p, 'idle'); // full again after 1 s
  for (let i = 0; i < 5; i++) store.consume(p, 'busy'); // full again after 5 s
  assert.equal(store.size(), 2);
  advance(1000);
  store.sweep();
  assert.equal(store.size(), 1, 'the refilled bucket is gone');
  const busy = store.consume(p, 'busy');
  assert.equal(busy.allowed, true, 'one token refilled in 1 s');
  assert.equal(busy.remaining, 0, 'the busy bucket kept its state through the sweep');
  assert.equal(store.consume(p, 'idle').remaining, 4, 'a forgotten bucket is a full bucket');
});

test('at the cap a new client is refused (reason capacity) and no held bucket is evicted', () => {
  const { store } = clockedStore(3, 1000);
  const p = policy('cap', 1, 2);
  store.consume(p, 'victim');
  store.consume(p, 'victim');
  assert.equal(store.consume(p, 'victim').allowed, false, 'victim is over its limit');
  store.consume(p, 'flood-1');
  store.consume(p, 'flood-2');
  assert.equal(store.size(), 3);
  const newcomer = store.consume(p, 'flood-3');
  assert.equal(newcomer.allowed, false);
  assert.equal(newcomer.reason, 'capacity');
  assert.ok(newcomer.retryAfterSeconds >= 1);
  assert.equal(store.size(), 3, 'memory stays flat');
  assert.equal(store.consume(p, 'victim').allowed, false, 'a flood of other keys cannot reset the victim');
});

test('at the cap, buckets that refilled are reclaimed for newcomers', () => {
  const { store, advance } = clockedStore(2, 1000);
  const p = policy('reclaim', 1, 1);
  store.consume(p, 'a');
  store.consume(p, 'b');
  assert.equal(store.consume(p, 'c').reason, 'capacity');
  advance(1000); // a and b are full again
  const c = store.consume(p, 'c');
  assert.equal(c.allowed, true);
  assert.equal(store.size(), 1);
});

test('100k distinct clients occupy one slot each', () => {
  const { store } = clockedStore(200_000);
  const p = policy('many', 1, 10);
  for (let i = 0; i < 100_000; i++) store.consume(p, `key-${i}`);
  assert.equal(store.size(), 100_000);
});
