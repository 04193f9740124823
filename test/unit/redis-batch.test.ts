import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecisionBatcher } from '../../src/limit/stores/redis-batch.js';
import type { ScriptReply } from '../../src/limit/stores/redis-script.js';

/** A stand-in for the script (no Redis here): answers allowed with tokensLeft = the key's position. */
function recorder(answer?: (keys: string[]) => ScriptReply | Error) {
  const calls: Array<{ keys: string[]; args: number[] }> = [];
  const send = (keys: string[], args: number[]) => {
    calls.push({ keys, args });
    const reply = answer ? answer(keys) : keys.flatMap((_k, i) => [1, String(i), '10.000', '0']);
    return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
  };
  return { calls, send };
}

test('decisions asked in one turn share one call, in order, each with its own answer', async () => {
  const { calls, send } = recorder();
  const batcher = new DecisionBatcher(send);
  const steps = await Promise.all([batcher.take('k1', 1, 5), batcher.take('k2', 2, 6), batcher.take('k1', 1, 5)]);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0], { keys: ['k1', 'k2', 'k1'], args: [1, 5, 2, 6, 1, 5] });
  assert.deepEqual(steps.map((s) => s.tokensLeft), [0, 1, 2]);
  assert.deepEqual(steps[0], { allowed: true, tokensLeft: 0, msUntilFull: 10, msUntilToken: 0 });
});

test('a later turn gets its own call', async () => {
  const { calls, send } = recorder();
  const batcher = new DecisionBatcher(send);
  await batcher.take('a', 1, 1);
  await batcher.take('b', 1, 1);
  assert.deepEqual(calls.map((c) => c.keys), [['a'], ['b']]);
});

test('maxBatch splits a full batch and maxBatch 1 sends each decision at once', async () => {
  const { calls, send } = recorder();
  const two = new DecisionBatcher(send, { maxBatch: 2 });
  await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => two.take(k, 1, 1)));
  assert.deepEqual(calls.map((c) => c.keys), [['a', 'b'], ['c', 'd'], ['e']]);

  calls.length = 0;
  const one = new DecisionBatcher(send, { maxBatch: 1 });
  const pending = one.take('x', 1, 1);
  assert.equal(calls.length, 1, 'sent before the turn ends');
  await pending;
});

test('a failed call rejects every decision of its batch with the same error', async () => {
  const boom = new Error('Command timed out');
  const { send } = recorder(() => boom);
  const batcher = new DecisionBatcher(send);
  const results = await Promise.allSettled([batcher.take('a', 1, 1), batcher.take('b', 1, 1)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  for (const r of results) assert.equal((r as PromiseRejectedResult).reason, boom);
});

test('a reply of the wrong length is an error, never a guessed decision', async () => {
  const { send } = recorder(() => [1, '0', '1.000', '0']);
  const batcher = new DecisionBatcher(send);
  const results = await Promise.allSettled([batcher.take('a', 1, 1), batcher.take('b', 1, 1)]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /unexpected script reply/);
});

test('a send that throws rejects instead of escaping the event loop', async () => {
  const batcher = new DecisionBatcher(() => {
    throw new Error('Connection is closed.');
  });
  await assert.rejects(batcher.take('a', 1, 1), /Connection is closed/);
});
