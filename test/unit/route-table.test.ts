import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteTable } from '../../src/routing/table.js';
import type { RouteConfig } from '../../src/config/types.js';
import { PROXIED_METHODS } from '../../src/config/defaults.js';

const route = (path: string, index: number, extra: Partial<RouteConfig> = {}): RouteConfig => ({
  index,
  path,
  host: null,
  methods: [...PROXIED_METHODS],
  upstream: {
    targets: [{ url: 'http://127.0.0.1:1', origin: 'http://127.0.0.1:1', weight: 1 }],
    balance: 'round_robin',
    healthCheck: null,
    passive: null,
    retries: 0,
    circuitBreaker: null,
  },
  upstreamOrigin: 'http://127.0.0.1:1',
  upstreamPath: '',
  stripPrefix: false,
  rewritePrefix: null,
  timeoutMs: 1000,
  tlsVerify: true,
  policy: null,
  limitSets: null,
  identity: { key: [{ kind: 'ip' }], ipv6Subnet: 64 },
  cost: 1,
  requireApiKey: false,
  adaptive: true,
  adaptiveConcurrency: null,
  login: false,
  access: { allow: { cidrs: [], keyIds: [] }, deny: { cidrs: [], keyIds: [] } },
  ...extra,
});

const table = new RouteTable([route('/api', 0), route('/api/v2', 1), route('/auth', 2)]);
const match = (p: string) => table.match(p, 'GET', 'gw.test').route?.path;

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
  assert.equal(withRoot.match('/anything/else', 'GET', '').route?.path, '/');
  assert.equal(withRoot.match('/api/x', 'GET', '').route?.path, '/api');
  assert.equal(withRoot.match('/', 'GET', '').route?.path, '/');
});

test('matching is case-sensitive, like the upstream path', () => {
  assert.equal(match('/API/x'), undefined);
});

test('host: an exact host wins over a wildcard, a wildcard over no host, on the same path', () => {
  const t = new RouteTable([
    route('/api', 0),
    route('/api', 1, { host: '*.example.com' }),
    route('/api', 2, { host: 'admin.example.com' }),
  ]);
  const at = (host: string) => t.match('/api/x', 'GET', host).route?.index;
  assert.equal(at('admin.example.com'), 2);
  assert.equal(at('ADMIN.Example.com:8443'), 2, 'case and port do not matter');
  assert.equal(at('shop.example.com'), 1);
  assert.equal(at('a.b.example.com'), 1, 'a wildcard takes any depth of subdomain');
  assert.equal(at('example.com'), 0, '*.example.com is not example.com itself');
  assert.equal(at('evil-example.com'), 0);
  assert.equal(at(''), 0);
});

test('host: a longer path on another host does not shadow a shorter path on this one', () => {
  const t = new RouteTable([route('/api', 0, { host: 'a.test' }), route('/api/v2', 1, { host: 'b.test' })]);
  assert.equal(t.match('/api/v2/x', 'GET', 'a.test').route?.index, 0);
  assert.equal(t.match('/api/v2/x', 'GET', 'b.test').route?.index, 1);
  assert.equal(t.match('/api/v2/x', 'GET', 'c.test').refusal, 'TG_ERR_ROUTE_NOT_FOUND');
  assert.equal(t.match('/api', 'GET', '[::1]:80').refusal, 'TG_ERR_ROUTE_NOT_FOUND');
});

test('methods: another method falls through to the next matching route, else 405', () => {
  const t = new RouteTable([route('/api', 0), route('/api/v2', 1, { methods: ['GET', 'HEAD'] }), route('/ro', 2, { methods: ['GET'] })]);
  assert.equal(t.match('/api/v2/x', 'GET', '').route?.index, 1);
  assert.equal(t.match('/api/v2/x', 'POST', '').route?.index, 0, 'POST is not taken by /api/v2: /api takes it');
  assert.equal(t.match('/ro/x', 'DELETE', '').refusal, 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED');
  assert.equal(t.match('/api/x', 'TRACE', '').refusal, 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED', 'TRACE is never proxied');
  assert.equal(t.match('/nope', 'DELETE', '').refusal, 'TG_ERR_ROUTE_NOT_FOUND');
});
