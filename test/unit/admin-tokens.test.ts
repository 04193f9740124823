import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdminTokens } from '../../src/admin/auth.js';

// AdminTokens compares digests, so a prefix, an extension or a token of
// another length must fail like any other wrong token, never match partly.
const OPS = 'ops-token-0123456789abcdef';
const CI = 'ci-token-fedcba9876543210';
const tokens = new AdminTokens([
  { id: 'ops', token: OPS },
  { id: 'ci', token: CI },
]);

test('the right bearer token names its id; each configured token names its own', () => {
  assert.equal(tokens.identify(`Bearer ${OPS}`), 'ops');
  assert.equal(tokens.identify(`Bearer ${CI}`), 'ci');
  assert.equal(tokens.identify(`bearer ${OPS}`), 'ops', 'the scheme is case-insensitive (RFC 7235)');
});

test('a prefix of the real token, or the real token extended, is refused', () => {
  assert.equal(tokens.identify(`Bearer ${OPS.slice(0, -1)}`), undefined);
  assert.equal(tokens.identify(`Bearer ${OPS.slice(0, 8)}`), undefined);
  assert.equal(tokens.identify(`Bearer ${OPS}x`), undefined);
  assert.equal(tokens.identify(`Bearer ${OPS}${CI}`), undefined);
});

test('tokens of other lengths and contents are refused', () => {
  for (const t of ['x', 'a'.repeat(OPS.length), 'a'.repeat(OPS.length + 40), OPS.toUpperCase()]) {
    assert.equal(tokens.identify(`Bearer ${t}`), undefined, t);
  }
});

test('a missing or malformed Authorization header is refused', () => {
  for (const header of [undefined, '', 'Bearer', 'Bearer ', OPS, `Basic ${OPS}`, `Bearer ${OPS} extra`, `Bearer\t${OPS}`, `Token ${OPS}`]) {
    assert.equal(tokens.identify(header), undefined, String(header));
  }
});

test('with no tokens configured nothing is accepted, not even an empty token', () => {
  const none = new AdminTokens([]);
  assert.equal(none.identify(`Bearer ${OPS}`), undefined);
  assert.equal(none.identify('Bearer '), undefined);
  assert.equal(none.identify(undefined), undefined);
});
