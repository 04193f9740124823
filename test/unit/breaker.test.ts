import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CIRCUIT_STATE_VALUE, CircuitBreaker, type BreakerOptions } from '../../src/upstream/breaker.js';

const options: BreakerOptions = { errorRate: 0.5, minRequests: 4, windowMs: 10_000, openForMs: 5_000 };

/** A breaker on a fake clock; `at(ms)` moves the clock. */
function setup(opts: BreakerOptions = options) {
  let t = 0;
  const breaker = new CircuitBreaker(opts, () => t);
  const at = (ms: number) => {
    t = ms;
  };
  /** Sends one request through and records its outcome. */
  const send = (success: boolean) => {
    assert.equal(breaker.tryAcquire(), true, `request at t=${t} is let through`);
    breaker.record(success);
  };
  return { breaker, at, send };
}

/** Opens the breaker at the current time with minRequests failures. */
function trip(send: (success: boolean) => void, n = options.minRequests) {
  for (let i = 0; i < n; i++) send(false);
}

test('a new breaker is closed and lets requests through', () => {
  const { breaker } = setup();
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.available(), true);
  assert.equal(breaker.tryAcquire(), true);
  assert.equal(breaker.tryAcquire(), true, 'closed has no limit on concurrent requests');
});

test('opens only once minRequests outcomes are in the window', () => {
  const { breaker, send } = setup();
  for (let i = 0; i < 3; i++) send(false);
  assert.equal(breaker.state, 'closed', '3 failures of 3 is 100%, but under minRequests');
  send(false);
  assert.equal(breaker.state, 'open');
});

test('respects the error rate: below it stays closed, at it opens', () => {
  const below = setup();
  // Every prefix of at least minRequests stays under 0.5: 1/4, 2/6, 3/8, 4/10.
  for (const success of [true, true, true, false, true, false, true, false, true, false]) below.send(success);
  assert.equal(below.breaker.state, 'closed');

  const at = setup();
  for (const success of [true, false, true, true, false]) at.send(success); // 2 of 5
  assert.equal(at.breaker.state, 'closed');
  at.send(false); // 3 of 6 = 0.5
  assert.equal(at.breaker.state, 'open');
});

test('a success can still reach minRequests with the rate above the threshold', () => {
  const { breaker, send } = setup();
  trip(send, 3);
  send(true); // 3 of 4
  assert.equal(breaker.state, 'open');
});

test('a fractional threshold is compared exactly (3 of 10 at errorRate 0.3)', () => {
  const { breaker, send } = setup({ ...options, errorRate: 0.3, minRequests: 10 });
  for (let i = 0; i < 7; i++) send(true);
  send(false);
  send(false);
  assert.equal(breaker.state, 'closed');
  send(false);
  assert.equal(breaker.state, 'open');
});

test('errorRate 0 opens on the first failure, never on successes alone', () => {
  const { breaker, send } = setup({ ...options, errorRate: 0, minRequests: 2 });
  for (let i = 0; i < 50; i++) send(true);
  assert.equal(breaker.state, 'closed');
  send(false);
  assert.equal(breaker.state, 'open');
});

test('failures older than the window do not count', () => {
  const { breaker, at, send } = setup();
  trip(send, 3); // at t=0
  at(10_000); // the bucket of t=0 has left the window
  send(false);
  assert.equal(breaker.state, 'closed', 'only 1 failure is in the window');
  send(false);
  send(false);
  assert.equal(breaker.state, 'closed', '3 in the window');
  send(false);
  assert.equal(breaker.state, 'open', 'the window still counts new failures');
});

test('failures inside the window do count', () => {
  const { breaker, at, send } = setup();
  trip(send, 3); // at t=0
  at(8_999); // 9 buckets on: t=0 is still in
  send(false);
  assert.equal(breaker.state, 'open');
});

test('the window slides: successes expire too', () => {
  const { breaker, at, send } = setup();
  for (let i = 0; i < 6; i++) send(true); // t=0
  at(5_000);
  for (let i = 0; i < 5; i++) send(false); // 5 of 11: closed
  assert.equal(breaker.state, 'closed');
  at(10_500); // the t=0 successes are gone; 5 failures of 5 remain
  send(true); // 5 of 6
  assert.equal(breaker.state, 'open');
});

test('a long idle gap clears the whole window', () => {
  const { breaker, at, send } = setup();
  trip(send, 3);
  at(1_000_000);
  send(false);
  send(true);
  send(true);
  send(true);
  assert.equal(breaker.state, 'closed', '1 of 4 after the gap');
});

test('open fails fast until openForMs has passed', () => {
  const { breaker, at, send } = setup();
  at(1_000);
  trip(send);
  at(5_999);
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.available(), false);
  assert.equal(breaker.tryAcquire(), false);
  at(6_000);
  assert.equal(breaker.state, 'half_open', 'reading the state moves it on');
});

test('outcomes recorded while open are ignored and do not extend it', () => {
  const { breaker, at, send } = setup();
  trip(send);
  at(2_000);
  breaker.record(false); // a request admitted before the circuit opened
  breaker.record(true);
  assert.equal(breaker.state, 'open');
  at(5_000);
  assert.equal(breaker.state, 'half_open');
});

test('half-open allows exactly one probe at a time', () => {
  const { breaker, at, send } = setup();
  trip(send);
  at(5_000);
  assert.equal(breaker.available(), true);
  assert.equal(breaker.available(), true, 'available() does not take the probe slot');
  assert.equal(breaker.tryAcquire(), true, 'the probe');
  assert.equal(breaker.tryAcquire(), false);
  assert.equal(breaker.available(), false);
  at(9_999);
  assert.equal(breaker.tryAcquire(), false, 'still waiting for the probe outcome (up to openForMs)');
  assert.equal(breaker.state, 'half_open');
});

test('a half-open outcome with no probe out is ignored', () => {
  const { breaker, at, send } = setup();
  trip(send);
  at(5_000);
  breaker.record(false);
  assert.equal(breaker.state, 'half_open');
  assert.equal(breaker.tryAcquire(), true, 'the probe slot is still free');
});

test('probe success closes the circuit with a fresh window', () => {
  const { breaker, at, send } = setup();
  trip(send);
  at(5_000);
  send(true);
  assert.equal(breaker.state, 'closed');
  assert.equal(breaker.tryAcquire(), true);
  assert.equal(breaker.tryAcquire(), true);
  trip(send, 3);
  assert.equal(breaker.state, 'closed', 'the failures that opened it are gone');
  send(false);
  assert.equal(breaker.state, 'open');
});

test('probe failure opens the circuit again for openForMs', () => {
  const { breaker, at, send } = setup();
  trip(send);
  at(5_000);
  send(false);
  assert.equal(breaker.state, 'open');
  assert.equal(breaker.tryAcquire(), false);
  at(9_999);
  assert.equal(breaker.available(), false);
  at(10_000);
  assert.equal(breaker.available(), true);
  assert.equal(breaker.state, 'half_open');
});

test('the metric values of the states', () => {
  assert.deepEqual(CIRCUIT_STATE_VALUE, { closed: 0, half_open: 1, open: 2 });
  const { breaker, at, send } = setup();
  const value = () => CIRCUIT_STATE_VALUE[breaker.state];
  assert.equal(value(), 0);
  trip(send);
  assert.equal(value(), 2);
  at(5_000);
  assert.equal(value(), 1);
});

test('a half-open probe whose outcome never comes frees the slot after openForMs', () => {
  const { breaker, at, send } = setup();
  trip(send);
  at(5_000);
  assert.equal(breaker.tryAcquire(), true, 'the probe');
  // Its outcome is never recorded (the request was lost before it was sent).
  at(9_999);
  assert.equal(breaker.tryAcquire(), false, 'the probe slot is still taken');
  at(10_000);
  assert.equal(breaker.state, 'half_open');
  assert.equal(breaker.tryAcquire(), true, 'a new probe may go');
  breaker.record(true);
  assert.equal(breaker.state, 'closed');
});
