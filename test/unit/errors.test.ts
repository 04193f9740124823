import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ERRORS, GatewayError, type ErrorCode } from '../../src/errors.js';

test('every catalogue entry has a TG_ERR_ code, a token and a message', () => {
  for (const [code, entry] of Object.entries(ERRORS)) {
    assert.match(code, /^TG_ERR_[A-Z_]+$/);
    assert.match(entry.error, /^[a-z_]+$/);
    assert.ok(entry.message.length > 0);
    const err = new GatewayError(code as ErrorCode);
    assert.equal(err.code, code, 'an error built from a key carries that key as its code');
    assert.equal(err.status, entry.status);
  }
});

test('client-facing tokens are unique and the documented ones exist', () => {
  const tokens = Object.values(ERRORS).map((e) => e.error);
  assert.equal(new Set(tokens).size, tokens.length);
  for (const t of ['not_found', 'rate_limited', 'bad_gateway', 'gateway_timeout', 'internal_error']) assert.ok(tokens.includes(t as never), t);
});

test('cause is kept', () => {
  const cause = new Error('ECONNREFUSED');
  assert.equal(new GatewayError('TG_ERR_UPSTREAM_UNREACHABLE', undefined, { cause }).cause, cause);
});
