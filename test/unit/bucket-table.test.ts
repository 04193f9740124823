import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateTable, keyHash } from '../../src/limit/stores/bucket-table.js';

const h = (key: string) => keyHash(key, 42);
// A one-number state that is idle from the instant it holds.
const table = (width = 1) => new StateTable(width, (s) => s[0] as number);

test('find, insert, read and write', () => {
  const t = table(2);
  assert.equal(t.find(h('a')), -1);
  t.insert(h('a'), [100, 1]);
  t.insert(h('b'), [200, 2]);
  const a = t.find(h('a'));
  assert.notEqual(a, -1);
  assert.deepEqual(t.read(a), [100, 1]);
  t.write(a, [150, 3]);
  assert.deepEqual(t.read(t.find(h('a'))), [150, 3]);
  assert.deepEqual(t.read(t.find(h('b'))), [200, 2], 'a write touches its own slot only');
  assert.equal(t.size, 2);
});

test('growth keeps every state (100k keys, width 3)', () => {
  const t = table(3);
  for (let i = 0; i < 100_000; i++) t.insert(h(`k${i}`), [i + 1, i * 2, -i]);
  assert.equal(t.size, 100_000);
  for (let i = 0; i < 100_000; i += 997) assert.deepEqual(t.read(t.find(h(`k${i}`))), [i + 1, i * 2, -i]);
  assert.equal(t.find(h('absent')), -1);
});

test('sweep forgets only idle states, in budgeted steps that wrap around', () => {
  const t = table();
  for (let i = 0; i < 3000; i++) t.insert(h(`k${i}`), [i % 2 === 0 ? 10 : 1000]); // even keys idle at 10
  t.sweep(50, 1000);
  const afterOne = t.size;
  assert.ok(afterOne < 3000 && afterOne > 1500, `one step of 1000 slots forgets some: ${afterOne}`);
  for (let i = 0; i < 20; i++) t.sweep(50, 1000);
  assert.equal(t.size, 1500, 'only the idle half is gone');
  assert.equal(t.find(h('k0')), -1);
  assert.deepEqual(t.read(t.find(h('k1'))), [1000], 'a state behind a tombstone is still found');
});

test('sweepAll returns the earliest idle instant among what is left; remove forgets one slot', () => {
  const t = table();
  t.insert(h('a'), [5]);
  t.insert(h('b'), [30]);
  t.insert(h('c'), [20]);
  assert.equal(t.sweepAll(10), 20);
  assert.equal(t.size, 2);
  t.remove(t.find(h('b')));
  assert.equal(t.find(h('b')), -1);
  assert.equal(t.size, 1);
});

test('churn: tombstones are reused and rebuilt away, never filling the table', () => {
  const t = table();
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 400; i++) t.insert(h(`r${round}-${i}`), [round + 1]);
    t.sweepAll(round + 1); // everything inserted this round is idle: forgotten
    assert.equal(t.size, 0);
  }
  t.insert(h('last'), [99]);
  assert.deepEqual(t.read(t.find(h('last'))), [99]);
});

test('keyHash: stable per seed, different across seeds, never a sentinel, no collisions in 200k keys', () => {
  assert.equal(keyHash('alice', 1), keyHash('alice', 1));
  assert.notEqual(keyHash('alice', 1), keyHash('alice', 2));
  const seen = new Set<number>();
  for (let i = 0; i < 200_000; i++) {
    const v = keyHash(`h:x-api-key:key-${i}`, 7);
    assert.ok(v >= 1 && Number.isSafeInteger(v));
    seen.add(v);
  }
  assert.equal(seen.size, 200_000);
});

test('idleAtOf and forEachIdleAt report each live state with its idle instant', () => {
  const t = table();
  t.insert(h('a'), [5]);
  t.insert(h('b'), [30]);
  t.remove(t.find(h('b')));
  t.insert(h('c'), [20]);
  assert.equal(t.idleAtOf(t.find(h('c'))), 20);
  const seen: [number, number][] = [];
  t.forEachIdleAt((hash, at) => seen.push([hash, at]));
  assert.deepEqual(seen.sort((x, y) => x[1] - y[1]), [[h('a'), 5], [h('c'), 20]], 'a forgotten state is not visited');
});
