import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassiveEjection } from '../../src/upstream/ejection.js';

/** An ejection tracker (3 failures, 30 s) on a fake clock; `at(ms)` moves the clock. */
function setup() {
  let t = 0;
  const ejection = new PassiveEjection({ ejectAfter: 3, ejectForMs: 30_000 }, () => t);
  const at = (ms: number) => {
    t = ms;
  };
  const record = (...outcomes: boolean[]) => {
    for (const ok of outcomes) ejection.record(ok);
  };
  return { ejection, at, record };
}

test('a new target is not ejected', () => {
  assert.equal(setup().ejection.ejected, false);
});

test('ejectAfter consecutive failures eject the target', () => {
  const { ejection, record } = setup();
  record(false, false);
  assert.equal(ejection.ejected, false, 'two failures are not enough');
  record(false);
  assert.equal(ejection.ejected, true);
});

test('a success resets the consecutive count', () => {
  const { ejection, record } = setup();
  record(false, false, true, false, false);
  assert.equal(ejection.ejected, false, 'never 3 in a row');
  record(false);
  assert.equal(ejection.ejected, true);
});

test('failures spread over time still count while consecutive', () => {
  const { ejection, at, record } = setup();
  record(false);
  at(60_000);
  record(false);
  at(120_000);
  record(false);
  assert.equal(ejection.ejected, true);
});

test('the target returns after ejectForMs', () => {
  const { ejection, at, record } = setup();
  at(1_000);
  record(false, false, false);
  at(30_999);
  assert.equal(ejection.ejected, true);
  at(31_000);
  assert.equal(ejection.ejected, false);
});

test('a returning target starts with a fresh count', () => {
  const { ejection, at, record } = setup();
  record(false, false, false);
  at(30_000);
  record(false, false);
  assert.equal(ejection.ejected, false, 'the failures before the ejection are not carried over');
  record(false);
  assert.equal(ejection.ejected, true);
  at(59_999);
  assert.equal(ejection.ejected, true, 'ejected again for a full ejectForMs');
  at(60_000);
  assert.equal(ejection.ejected, false);
});

test('outcomes arriving while ejected neither extend the ejection nor count on return', () => {
  const { ejection, at, record } = setup();
  record(false, false, false);
  at(29_000);
  record(false, false, false, false);
  at(30_000);
  assert.equal(ejection.ejected, false, 'not extended');
  record(false, false);
  assert.equal(ejection.ejected, false, 'the count is fresh');
});
