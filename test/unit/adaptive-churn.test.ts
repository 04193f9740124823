import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChurnTable, keyBit } from '../../src/adaptive/churn.js';
import { LruSlots } from '../../src/adaptive/lru-slots.js';
import { SATURATED, SKETCH_WIDTH, distinct, sketchAdd, sketchEstimate } from '../../src/adaptive/sketch.js';
import { mulberry32 } from '../../src/adaptive/random.js';
import { keyHash } from '../../src/limit/stores/bucket-table.js';

const MINUTE = 60_000;
const T0 = 28_000_000 * MINUTE; // a minute boundary, near today's epoch
const h = (key: string) => keyHash(key, 11);

test('linear counting: exact at the ends, close in between', () => {
  assert.equal(distinct(0, 0), 0);
  assert.equal(distinct(0xffffffff, 0xffffffff), SATURATED);
  assert.ok(Math.abs(distinct(1, 0) - 1) < 0.01, 'one bit set: about 1 item');
  // 20 distinct bits of 64 is what about 23.5 items set on average: m ln(64 / 44).
  assert.ok(Math.abs(distinct(0xfffff, 0) - 64 * Math.log(64 / 44)) < 1e-9);
  assert.ok(Math.abs(distinct(0, 0x80000000) - 1) < 0.01, 'the high word counts too');
});

test('the sketch keeps the previous minute, fading as it slides out, and takes late reports', () => {
  const row = new Uint32Array(SKETCH_WIDTH + 2).fill(0);
  const base = 2; // a row inside a larger array
  for (let bit = 0; bit < 10; bit++) sketchAdd(row, base, T0 + bit * 1000, bit);
  const ten = sketchEstimate(row, base, T0 + 59_000);
  assert.ok(ten > 10 && ten < 11, `10 bits: about 10.8 items (${ten})`);
  assert.equal(sketchEstimate(row, base, T0 + MINUTE), ten, 'at the boundary the previous minute counts whole');
  assert.ok(Math.abs(sketchEstimate(row, base, T0 + MINUTE + 30_000) - ten / 2) < 1e-9, 'half way through: half');
  sketchAdd(row, base, T0 + MINUTE + 30_000, 40);
  assert.ok(Math.abs(sketchEstimate(row, base, T0 + MINUTE + 30_000) - ten / 2) < 1e-9, 'one new item is fewer than half of ten');
  sketchAdd(row, base, T0 + 59_999, 11); // late: belongs to the previous minute
  assert.ok(sketchEstimate(row, base, T0 + MINUTE) > ten, 'the late item joined the previous minute');
  sketchAdd(row, base, T0 - MINUTE, 12); // too late: no minute kept holds it
  assert.equal(row[0], 0, 'the row writes only its own slots');
  assert.equal(sketchEstimate(row, base, T0 + 3 * MINUTE), 0, 'stale minutes read 0');
  sketchAdd(row, base, T0 + 5 * MINUTE, 3);
  assert.ok(Math.abs(sketchEstimate(row, base, T0 + 5 * MINUTE) - 1) < 0.01, 'after a gap, both minutes start afresh');
});

test('churn: distinct keys per network per minute, repeats not counted, networks apart', () => {
  const churn = new ChurnTable();
  for (let i = 0; i < 30; i++) churn.observe(h('net-a'), h(`key-${i}`), T0 + i * 100);
  for (let i = 0; i < 30; i++) churn.observe(h('net-b'), h('one-key'), T0 + i * 100);
  const a = churn.distinctKeys(h('net-a'), T0 + 5000);
  assert.ok(a > 24 && a < 36, `30 keys: ${a}`);
  assert.ok(Math.abs(churn.distinctKeys(h('net-b'), T0 + 5000) - 1) < 0.01, 'one key thirty times');
  assert.equal(churn.distinctKeys(h('net-c'), T0), 0, 'an unknown network');
  assert.equal(churn.size, 2);
});

test('churn: a full table forgets the least recently seen network', () => {
  const churn = new ChurnTable(2);
  churn.observe(h('a'), h('k1'), T0);
  churn.observe(h('b'), h('k1'), T0);
  churn.observe(h('a'), h('k2'), T0 + 1);
  churn.observe(h('c'), h('k1'), T0 + 2);
  assert.equal(churn.size, 2);
  assert.equal(churn.distinctKeys(h('b'), T0 + 2), 0, 'b forgotten');
  assert.ok(churn.distinctKeys(h('a'), T0 + 2) > 1.9, 'a kept its two keys');
  churn.observe(h('b'), h('k9'), T0 + 3);
  assert.ok(Math.abs(churn.distinctKeys(h('b'), T0 + 3) - 1) < 0.01, 'b back with a fresh sketch');
});

test('keyBit spreads keys over the 64 bits', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(keyBit(h(`k${i}`)));
  assert.equal(seen.size, 64);
  for (const bit of seen) assert.ok(Number.isInteger(bit) && bit >= 0 && bit < 64);
});

test('LruSlots against a reference: lookups, recency order and deletion stay exact through growth', () => {
  let grownTo = 0;
  const slots = new LruSlots(3000, (capacity) => (grownTo = capacity));
  const reference = new Map<number, number>(); // hash -> row, insertion order = recency
  const random = mulberry32(9);
  for (let i = 0; i < 50_000; i++) {
    const hash = h(`c${Math.floor(random() * 6000)}`);
    let row = slots.find(hash);
    assert.equal(row, reference.get(hash) ?? -1);
    if (row < 0) {
      if (reference.size === 3000) {
        const [oldest, freed] = reference.entries().next().value as [number, number];
        reference.delete(oldest);
        row = slots.insert(hash);
        assert.equal(row, freed, 'the least recently used row is the one taken over');
      } else {
        row = slots.insert(hash);
        assert.equal(row, reference.size, 'rows are handed out in order until the cap');
      }
    } else {
      slots.touch(row);
      reference.delete(hash);
    }
    reference.set(hash, row);
  }
  assert.equal(slots.size, 3000);
  assert.equal(grownTo, 3000, 'grown from 1024 to the cap, not past it');
  assert.equal(slots.capacity, 3000);
  for (const [hash, row] of reference) assert.equal(slots.find(hash), row);
  assert.throws(() => new LruSlots(0, () => {}), RangeError);
});
