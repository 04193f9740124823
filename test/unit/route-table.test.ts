import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable } from '../../src/routing/table.js';
import type { RouteConfig } from '../../src/config/types.js';

const route = (path: string, index: number): RouteConfig => ({
  index,
  path,
  upstreamOrigin: 'http://127.0.0.1:1',
  upstreamPath: '',
  stripPrefix: false,
  timeoutMs: 1000,
  tlsVerify: true,
  policy: null,
});

const table = new RouteTable([route('/api', 0), route('/api/v2', 1), route('/auth', 2)]);
const match = (p: string) => table.match(p)?.path;

test('longest prefix wins, whatever the config order', () => {
  assert.equal(match('/api/v2/x'), '/api/v2');
  assert.equal(match('/api/v2'), '/api/v2');
  assert.equal(match('/api/v3'), '/api');
  assert.equal(match('/api/v2x'), '/api', '/api/v2x is not under /api/v2');
});

test('matching is on segment boundaries', () => {
  assert.equal(match('/api'), '/api');
  assert.equal(match('/api/'), '/api');
  assert.equal(match('/api/x'), '/api');
  assert.equal(match('/apiary'), undefined);
  assert.equal(match('/authx'), undefined);
  assert.equal(match('/'), undefined);
});

test('a "/" route catches everything not matched by a longer prefix', () => {
  const withRoot = new RouteTable([route('/', 0), route('/api', 1)]);
  assert.equal(withRoot.match('/anything/else')?.path, '/');
  assert.equal(withRoot.match('/api/x')?.path, '/api');
  assert.equal(withRoot.match('/')?.path, '/');
});

test('matching is case-sensitive, like the upstream path', () => {
  assert.equal(match('/API/x'), undefined);
});
