import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseTarget } from '../../src/routing/normalise.js';

const path = (target: string) => {
  const r = normaliseTarget(target);
  return r.ok ? r.path : `REFUSED: ${r.reason}`;
};

test('plain paths and queries pass unchanged', () => {
  assert.deepEqual(normaliseTarget('/api/users/42?x=1&y=%20'), { ok: true, path: '/api/users/42', query: '?x=1&y=%20' });
  assert.equal(path('/'), '/');
  assert.equal(path('/api/'), '/api/');
  assert.equal(path('/a.b/c.json'), '/a.b/c.json');
});

test('dot segments are resolved, never above the root', () => {
  assert.equal(path('/api/../auth/login'), '/auth/login');
  assert.equal(path('/api/./x'), '/api/x');
  assert.equal(path('/../../etc/passwd'), '/etc/passwd');
  assert.equal(path('/api/x/..'), '/api/');
  assert.equal(path('/api/.'), '/api/');
});

test('encoded dots are decoded before dot segments are resolved', () => {
  assert.equal(path('/api/%2e%2e/auth'), '/auth');
  assert.equal(path('/api/%2E%2E/auth'), '/auth');
  assert.equal(path('/api/.%2e/auth'), '/auth');
  assert.equal(path('/api/%2e/x'), '/api/x');
});

test('runs of slashes are merged (no protocol-relative //host)', () => {
  assert.equal(path('//evil.example/x'), '/evil.example/x');
  assert.equal(path('/api//v2///x'), '/api/v2/x');
});

test('encoded slash, backslash and NUL are refused', () => {
  assert.match(path('/api%2Fv2/x'), /REFUSED/);
  assert.match(path('/api/%2f../auth'), /REFUSED/);
  assert.match(path('/api/..%5Cauth'), /REFUSED/);
  assert.match(path('/api\\..\\auth'), /REFUSED/);
  assert.match(path('/api/%00'), /REFUSED/);
});

test('malformed targets are refused', () => {
  assert.match(path('/api/%zz'), /REFUSED/);
  assert.match(path('/api/%4'), /REFUSED/);
  assert.match(path('http://example.com/api'), /REFUSED/);
  assert.match(path('*'), /REFUSED/);
});

test('unreserved escapes are decoded, others upper-cased, raw unsafe bytes escaped', () => {
  assert.equal(path('/api/%7euser/%41'), '/api/~user/A');
  assert.equal(path('/api/caf%c3%a9'), '/api/caf%C3%A9');
  assert.equal(path('/api/a b'), '/api/a%20b');
  assert.equal(path('/api/%20'), '/api/%20');
});

test('the canonical form is a fixed point', () => {
  for (const t of ['/api/../auth', '/a/%2e%2e/b', '/x//y/', '/caf%c3%a9', '/a b/c']) {
    const once = path(t);
    assert.equal(path(once), once, t);
  }
});
