import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CheckBatcher } from '../../src/limit/stores/redis-batch.js';
import { checkKeys, encodeCheck, type ScriptReply } from '../../src/limit/stores/redis-script.js';
import { checkOf, single, spec } from '../helpers/limits.js';

/** A stand-in for the script (no Redis here): answers allowed with remaining = the key's position in the call. */
function recorder(answer?: (keys: string[]) => ScriptReply | Error) {
  const calls: Array<{ keys: string[]; args: string[] }> = [];
  const send = (keys: string[], args: string[]) => {
    calls.push({ keys, args });
    const reply = answer ? answer(keys) : keys.flatMap((_k, i) => [1, String(i), '10.5', '0']);
    return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
  };
  return { calls, send };
}

test('checks asked in one turn share one call, in order, each with its own share of the reply', async () => {
  const { calls, send } = recorder();
  const batcher = new CheckBatcher(send);
  const results = await Promise.all([batcher.take(['a1', 'a2'], ['A']), batcher.take(['b'], ['B']), batcher.take(['c1', 'c2', 'c3'], ['C'])]);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0], { keys: ['a1', 'a2', 'b', 'c1', 'c2', 'c3'], args: ['A', 'B', 'C'] });
  assert.deepEqual(results.map((steps) => steps.map((s) => s.remaining)), [[0, 1], [2], [3, 4, 5]]);
  assert.deepEqual(results[1], [{ allowed: true, remaining: 2, resetMs: 10.5, retryAfterMs: 0 }]);
});

test('a later turn gets its own call', async () => {
  const { calls, send } = recorder();
  const batcher = new CheckBatcher(send);
  await batcher.take(['a'], []);
  await batcher.take(['b'], []);
  assert.deepEqual(calls.map((c) => c.keys), [['a'], ['b']]);
});

test('maxBatch splits a full batch and maxBatch 1 sends each check at once', async () => {
  const { calls, send } = recorder();
  const two = new CheckBatcher(send, { maxBatch: 2 });
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => two.take([k], [])));
  assert.deepEqual(calls.map((c) => c.keys), [['a', 'b'], ['c', 'd'], ['e']]);

  calls.length = 0;
  const one = new CheckBatcher(send, { maxBatch: 1 });
  const pending = one.take(['x', 'y'], []);
  assert.equal(calls.length, 1, 'sent before the turn ends');
  await pending;
});

test('checks of many keys fill a call by keys: a check never straddles two calls', async () => {
  const { calls, send } = recorder();
  const batcher = new CheckBatcher(send, { maxKeys: 4 });
  const results = await Promise.all([batcher.take(['a1', 'a2', 'a3'], []), batcher.take(['b1', 'b2'], []), batcher.take(['c1', 'c2'], []), batcher.take(['d1', 'd2', 'd3', 'd4', 'd5'], [])]);
  assert.deepEqual(calls.map((c) => c.keys.length), [3, 4, 5], 'b and c together; a lone check may exceed the key cap');
  assert.deepEqual(results.map((steps) => steps.length), [3, 2, 2, 5]);
});

test('a failed call rejects every check of its batch with the same error', async () => {
  const boom = new Error('Command timed out');
  const { send } = recorder(() => boom);
  const batcher = new CheckBatcher(send);
  const results = await Promise.allSettled([batcher.take(['a'], []), batcher.take(['b'], [])]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  for (const r of results) assert.equal((r as PromiseRejectedResult).reason, boom);
});

test('a reply of the wrong length is an error, never a guessed decision', async () => {
  const { send } = recorder(() => [1, '0', '1', '0']);
  const batcher = new CheckBatcher(send);
  const results = await Promise.allSettled([batcher.take(['a'], []), batcher.take(['b'], [])]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /unexpected script reply/);
});

test('a send that throws rejects instead of escaping the event loop', async () => {
  const batcher = new CheckBatcher(() => {
    throw new Error('Connection is closed.');
  });
  await assert.rejects(batcher.take(['a'], []), /Connection is closed/);
});

test('reply numbers are read exactly, infinities included', async () => {
  const { send } = recorder(() => [0, '0', '0.30000000000000004', 'inf', 1, '2', '1e-07', '0']);
  const [steps] = await Promise.all([new CheckBatcher(send).take(['a', 'b'], [])]);
  assert.deepEqual(steps, [
    { allowed: false, remaining: 0, resetMs: 0.1 + 0.2, retryAfterMs: Infinity },
    { allowed: true, remaining: 2, resetMs: 1e-7, retryAfterMs: 0 },
  ]);
});

test('a check is encoded as now, count, cost, then seven fields per limit', () => {
  const bucket = spec('b', { rate: 0.5, capacity: 3 });
  const slots = spec('s', { algorithm: 'concurrency', rate: 0, capacity: 2, windowMs: 0, mode: 'shadow', leaseMs: 200 });
  const c = checkOf('plan', [bucket, slots], ['alice', 'route:/api'], 2);
  assert.deepEqual(encodeCheck(c, 1_767_225_600_000.25, ['', 'lease-1']), [
    '1767225600000.25', '2', '2',
    '1', '0.5', '3', '6000', '1', '60000', '',
    '5', '0', '2', '0', '0', '200', 'lease-1',
  ]);
  assert.equal(encodeCheck(c, undefined, ['', 'x'])[0], '', 'empty now: the script reads Redis TIME');
});

test('keys: one hash tag per limit and scope key, whatever the check', () => {
  const a = spec('a');
  const b = spec('b');
  assert.deepEqual(checkKeys('tg:', single(a, 'alice')), ['tg:{a:alice}']);
  assert.deepEqual(checkKeys('tg:', checkOf('g', [a, b], ['alice', 'global'])), ['tg:{a:alice}', 'tg:{b:global}']);
});
