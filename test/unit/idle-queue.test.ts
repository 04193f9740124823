import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdleQueue } from '../../src/limit/stores/idle-queue.js';

/** Pops everything: the instants in order, each with its table and hash. */
function drain(q: IdleQueue): [number, number, number][] {
  const out: [number, number, number][] = [];
  while (q.size > 0) {
    out.push([q.topAt, q.topTable, q.topHash]);
    q.pop();
  }
  return out;
}

// A fixed pseudo-random sequence (an LCG's high bits): the same every run.
function numbers(n: number, seed = 11): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(Math.floor(((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 100_000));
  return out;
}

test('pops in order of instant, each entry with its own table and hash, across growth', () => {
  const q = new IdleQueue();
  const at = numbers(5000);
  at.forEach((a, i) => q.push(a, i % 7, i + 1));
  assert.equal(q.size, 5000);
  const out = drain(q);
  assert.deepEqual(out.map((e) => e[0]), [...at].sort((x, y) => x - y));
  for (const [a, table, hash] of out) assert.ok(at[hash - 1] === a && (hash - 1) % 7 === table, `entry ${hash} kept together`);
  assert.equal(q.topAt, Infinity, 'empty');
});

test('append then heapify builds the same order; pushes and pops interleave', () => {
  const q = new IdleQueue();
  const at = numbers(3000, 5);
  at.forEach((a, i) => q.append(a, 0, i + 1));
  q.heapify();
  q.push(-1, 1, 99_999);
  assert.deepEqual([q.topAt, q.topTable, q.topHash], [-1, 1, 99_999]);
  q.pop();
  const half = drain(q).map((e) => e[0]);
  assert.deepEqual(half, [...at].sort((x, y) => x - y));
});
