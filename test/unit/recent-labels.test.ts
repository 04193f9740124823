import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentLabels } from '../../src/limit/recent-labels.js';
import type { ClientIdentity } from '../../src/limit/keys.js';

const client = (n: number): ClientIdentity => ({ key: `h:x-api-key:${n}`, label: `key:${n}`, keyId: null, plan: null, verified: false });

test('recent labels: a noted label resolves to its state key; a label that is its own key is not kept', () => {
  const recent = new RecentLabels(10);
  recent.note(client(1));
  recent.note({ key: 'ip:10.0.0.1', label: 'ip:10.0.0.1', keyId: null, plan: null, verified: false });
  assert.equal(recent.keyOf('key:1'), 'h:x-api-key:1');
  assert.equal(recent.keyOf('ip:10.0.0.1'), undefined);
  assert.equal(recent.size, 1);
});

test('recent labels: never more than max held, the last max/2 distinct labels always found', () => {
  const recent = new RecentLabels(100);
  for (let n = 0; n < 10_000; n++) {
    recent.note(client(n));
    assert.ok(recent.size <= 100, `size ${recent.size} after ${n + 1} notes`);
  }
  for (let n = 10_000 - 50; n < 10_000; n++) assert.equal(recent.keyOf(`key:${n}`), `h:x-api-key:${n}`);
  assert.equal(recent.keyOf('key:0'), undefined, 'the oldest label is forgotten');
});

test('recent labels: a label seen again is kept while others come and go, and follows a new key', () => {
  const recent = new RecentLabels(10);
  for (let n = 0; n < 100; n++) {
    recent.note(client(1_000));
    recent.note(client(n));
  }
  assert.equal(recent.keyOf('key:1000'), 'h:x-api-key:1000');
  recent.note({ ...client(1_000), key: 'h:x-api-key:other' });
  assert.equal(recent.keyOf('key:1000'), 'h:x-api-key:other');
});
