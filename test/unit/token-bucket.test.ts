import { test } from 'node:test';
import assert from 'node:assert/strict';
import { takeToken } from '../../src/limit/algorithms/token-bucket.js';

const policy = { rate: 5, burst: 10 };

/** Takes `n` tokens at time `now`, threading the state through; returns the last step. */
function drain(n: number, now: number, p: { rate: number; burst: number } = policy) {
  let fullAt: number | undefined;
  let step;
  for (let i = 0; i < n; i++) {
    step = takeToken(fullAt, now, p);
    fullAt = step.fullAt;
  }
  return step!;
}

test('a new client starts with a full bucket', () => {
  const step = takeToken(undefined, 1000, policy);
  assert.equal(step.allowed, true);
  assert.equal(step.remaining, 9);
  assert.equal(step.fullAt, 1000 + 200);
  assert.equal(step.resetSeconds, 1);
});

test('burst requests pass, the next is refused with Retry-After = ceil((1 - tokens) / rate)', () => {
  const last = drain(10, 0);
  assert.equal(last.allowed, true);
  assert.equal(last.remaining, 0);
  assert.equal(last.resetSeconds, 2); // 10 tokens at 5/s
  const refused = takeToken(last.fullAt, 0, policy);
  assert.equal(refused.allowed, false);
  assert.equal(refused.remaining, 0);
  assert.equal(refused.retryAfterSeconds, 1); // (1 - 0) / 5 = 0.2 s -> 1
  assert.equal(refused.fullAt, last.fullAt, 'a refusal does not change state');
});

test('tokens refill continuously at the rate', () => {
  const empty = drain(10, 0).fullAt; // full again at 2000 ms
  assert.equal(takeToken(empty, 199, policy).allowed, false);
  const at200 = takeToken(empty, 200, policy);
  assert.equal(at200.allowed, true, 'one token after 1/rate seconds');
  assert.equal(at200.remaining, 0);
  assert.equal(takeToken(at200.fullAt, 200, policy).allowed, false);
});

test('refill is capped at burst', () => {
  const first = takeToken(undefined, 0, policy);
  const muchLater = takeToken(first.fullAt, 3_600_000, policy);
  assert.equal(muchLater.remaining, 9, 'an hour idle still only refills to burst');
});

test('fractional rates: 0.5/s gives one token every 2 s and Retry-After 2', () => {
  const slow = { rate: 0.5, burst: 1 };
  const a = takeToken(undefined, 0, slow);
  assert.equal(a.allowed, true);
  const b = takeToken(a.fullAt, 0, slow);
  assert.equal(b.allowed, false);
  assert.equal(b.retryAfterSeconds, 2);
  assert.equal(takeToken(a.fullAt, 1999, slow).allowed, false);
  assert.equal(takeToken(a.fullAt, 2000, slow).allowed, true);
});

test('Retry-After rounds a partial token up and is at least 1', () => {
  const p = { rate: 0.3, burst: 1 };
  const a = takeToken(undefined, 0, p);
  // 1 s later the bucket holds 0.3 tokens: (1 - 0.3) / 0.3 = 2.33 s -> 3
  assert.equal(takeToken(a.fullAt, 1000, p).retryAfterSeconds, 3);
  const fast = { rate: 1000, burst: 1 };
  const f = takeToken(undefined, 0, fast);
  assert.equal(takeToken(f.fullAt, 0, fast).retryAfterSeconds, 1);
});

test('float error does not lose a token at fractional rates', () => {
  const p = { rate: 0.1, burst: 3 };
  let fullAt: number | undefined;
  let now = 0;
  for (let i = 0; i < 1000; i++) {
    const s = takeToken(fullAt, now, p);
    assert.equal(s.allowed, true, `request ${i} at t=${now}`);
    fullAt = s.fullAt;
    now = fullAt - (p.burst - 1) * 10_000; // exactly when the next token exists
  }
});

test('X-RateLimit-Reset counts whole seconds until the bucket is full', () => {
  const step = drain(30, 0, { rate: 1, burst: 60 });
  assert.equal(step.remaining, 30);
  assert.equal(step.resetSeconds, 30);
});
