import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml } from '../helpers/http.js';
import { adminSend, rawAdmin } from '../helpers/admin.js';

// Admin API authentication: no spelling of a path reaches a route without the token, and guessing is slowed.
const TOKEN = 'ops-token-0123456789abcdef';
const BLOCK = '{"block":true,"expires_in":"1m"}';
const KEY = 'ip:10.0.0.9';

async function setup(t: { after(fn: () => Promise<unknown>): void }, admin = '') {
  const up = await startUpstream();
  const gw = await startGateway(`admin:\n  token: "${TOKEN}"\n${admin}rate_limit: { requests_per_second: 1, burst: 5 }\nroutes:\n${routesYaml([{ path: '/', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return gw;
}

const put = (gw: TestGateway, target: string, auth = '') =>
  rawAdmin(gw, `PUT ${target} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json${auth && `\r\nauthorization: Bearer ${auth}`}`, BLOCK);
const get = (gw: TestGateway, target: string, auth = '', localAddress?: string) =>
  rawAdmin(gw, `GET ${target} HTTP/1.1\r\nhost: x${auth && `\r\nauthorization: Bearer ${auth}`}`, '', localAddress);
const audits = (gw: TestGateway) => gw.logs.filter((l) => l.audit !== undefined);

// Every spelling of PUT /v1/limits/ip:10.0.0.9 a router, a proxy or a client may take for it.
const SPELLINGS = [
  '/%76%31/limits/ip:10.0.0.9',
  '/v1/%6Cimits/ip:10.0.0.9',
  '/v1/limits/ip%3A10.0.0.9',
  '//v1/limits/ip:10.0.0.9',
  '/v1//limits/ip:10.0.0.9',
  '/./v1/limits/ip:10.0.0.9',
  '/x/../v1/limits/ip:10.0.0.9',
  '/%2e/v1/limits/ip:10.0.0.9',
  '/V1/limits/ip:10.0.0.9',
  '/v1/LIMITS/ip:10.0.0.9',
  '/v1;a=b/limits/ip:10.0.0.9',
  '/v1/limits/ip:10.0.0.9;a=b',
  '/v1/limits/ip:10.0.0.9?',
  '/v1/limits/ip:10.0.0.9#',
  '/v1/limits/ip:10.0.0.9?#x',
  'http://x/v1/limits/ip:10.0.0.9',
  'HTTP://X/%76%31/limits/ip:10.0.0.9',
  'http://x//v1/limits/ip:10.0.0.9',
];
const ROUTES_SPELLINGS = ['/%76%31/routes', '/v1/%72outes', '//v1/routes', '/v1//routes', '/./v1/routes', '/x/../v1/routes', '/V1/routes', '/v1/ROUTES', '/v1;a=b/routes', '/v1/routes;a=b', '/v1/routes?', '/v1/routes#', 'http://x/v1/routes', 'HTTP://X/%76%31/routes', '/v1/openapi.json?x#y'];

test('no spelling of a /v1 path reaches its route without the token: each is 401 and nothing is applied', async (t) => {
  const gw = await setup(t, '  auth_failures: { burst: 1000, per_minute: 1000 }\n');
  for (const target of SPELLINGS) {
    const res = await put(gw, target);
    assert.equal(res.status, 401, `PUT ${target}: ${res.body}`);
    assert.deepEqual(JSON.parse(res.body), { error: 'unauthorized' }, target);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/);
    for (const method of ['GET', 'DELETE']) {
      const other = await rawAdmin(gw, `${method} ${target} HTTP/1.1\r\nhost: x`);
      assert.equal(other.status, 401, `${method} ${target}: ${other.body}`);
    }
  }
  for (const target of ROUTES_SPELLINGS) {
    const res = await get(gw, target);
    assert.equal(res.status, 401, `GET ${target}: ${res.body}`);
  }
  assert.equal(gw.gateway.overrides.get(KEY), undefined, 'no override was set');
  assert.deepEqual(audits(gw), [], 'no audit line');
  const shown = await adminSend(gw, TOKEN, 'GET', `/v1/limits/${KEY}`);
  assert.equal(shown.status, 200);
  assert.equal(shown.json().override, null);
});

test('the spellings that route do reach the route with the token (so the 401s above are the check, not a miss)', async (t) => {
  const gw = await setup(t);
  for (const target of ['/%76%31/limits/ip:10.0.0.9', 'http://x/v1/limits/ip:10.0.0.9']) {
    const res = await put(gw, target, TOKEN);
    assert.equal(res.status, 200, `${target}: ${res.body}`);
  }
  assert.deepEqual(audits(gw).map((l) => [l.who, l.key]), [['admin', KEY], ['admin', KEY]], 'the audit names the token id');
  const absolute = await get(gw, 'http://x/v1/routes', TOKEN);
  assert.equal(absolute.status, 200);
});

test('only /health and /ready are open (and /metrics with expose_metrics); an unknown path without a token is 401', async (t) => {
  const gw = await setup(t, '  auth_failures: { burst: 1000, per_minute: 1000 }\n');
  for (const path of ['/health', '/ready']) {
    assert.equal((await get(gw, path)).status, 200, path);
    assert.equal((await rawAdmin(gw, `HEAD ${path} HTTP/1.1\r\nhost: x`)).status, 200, `HEAD ${path}`);
  }
  for (const path of ['/metrics', '/nothing-here', '/health/', '/HEALTH', '/health;x', '/', '*', '/%zz', '/v1', '/v1/']) {
    const res = await get(gw, path);
    assert.equal(res.status, 401, `${path}: ${res.body}`);
    assert.deepEqual(JSON.parse(res.body), { error: 'unauthorized' }, path);
  }
  assert.equal((await get(gw, '/nothing-here', TOKEN)).status, 404, 'with the token: not found');
  const bad = await get(gw, '/%zz', TOKEN);
  assert.equal(bad.status, 400, 'a malformed escape with the token: bad request, in the admin format');
  assert.equal(JSON.parse(bad.body).error, 'bad_request');

  const exposed = await setup(t, '  expose_metrics: true\n');
  const metrics = await get(exposed, '/metrics');
  assert.equal(metrics.status, 200, '/metrics on the admin listener is open, as on the gateway port');
  assert.equal((await get(exposed, '/metrics/x')).status, 401);
});

test('repeated wrong tokens from one address get 429 with Retry-After, a right token included, until they decay', async (t) => {
  const gw = await setup(t, '  auth_failures: { burst: 3, per_minute: 1 }\n');
  const guesses = ['guess-0000000000000001', 'guess-0000000000000002', 'guess-0000000000000003', 'guess-0000000000000004'];
  const statuses = [];
  for (const guess of guesses) statuses.push((await get(gw, '/v1/routes', guess)).status);
  assert.deepEqual(statuses, [401, 401, 401, 429]);
  const refused = await get(gw, '/v1/routes', 'guess-0000000000000005');
  assert.equal(refused.status, 429);
  assert.equal(JSON.parse(refused.body).error, 'too_many_requests');
  assert.match(refused.headers['content-type'] ?? '', /^application\/json/);
  const retryAfter = Number(refused.headers['retry-after']);
  assert.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After: ${refused.headers['retry-after']}`);
  assert.equal(JSON.parse(refused.body).retry_after, retryAfter);

  // The right token is refused too while throttled, and nothing it asks for is applied.
  assert.equal((await get(gw, '/v1/routes', TOKEN)).status, 429);
  assert.equal((await put(gw, `/v1/limits/${KEY}`, TOKEN)).status, 429);
  const check = await rawAdmin(gw, `POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${TOKEN}`, '{"key":"k"}');
  assert.equal(check.status, 429, 'a 429 on /v1/check is the throttle in the admin format, not a limit decision');
  assert.equal(JSON.parse(check.body).error, 'too_many_requests');
  assert.equal(gw.gateway.overrides.get(KEY), undefined);
  assert.deepEqual(audits(gw), []);
  assert.equal((await get(gw, '/health')).status, 200, 'open routes are not throttled');
  // Another address is not held back by this one's failures.
  assert.equal((await get(gw, '/v1/routes', TOKEN, '127.0.0.2')).status, 200);

  const warns = gw.logs.filter((l) => l.event === 'admin_auth_throttled');
  assert.equal(warns.length, 1, 'one warn line when the address starts being throttled');
  assert.equal(warns[0]?.level, 40);
  assert.equal(warns[0]?.client, '127.0.0.1');
  const text = gw.logs.map((l) => JSON.stringify(l)).join('\n');
  for (const secret of [TOKEN, ...guesses, 'guess-0000000000000005']) assert.ok(!text.includes(secret), 'no token reaches a log line');
});

test('the throttle is on by default: the eleventh wrong token in a row is 429', async (t) => {
  const gw = await setup(t);
  const statuses = [];
  const started = performance.now();
  for (let i = 0; i < 11; i++) statuses.push((await get(gw, '/v1/routes', `wrong-token-${String(i).padStart(10, '0')}`)).status);
  // Six a minute come back: a machine slow enough to take 10 s over these earns one more 401 per 10 s.
  const refilled = Math.floor((performance.now() - started) / 10_000);
  if (refilled === 0) assert.deepEqual(statuses, [...Array(10).fill(401), 429]);
  else assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
  assert.equal((await get(gw, '/v1/routes', '', '127.0.0.3')).status, 401, 'no token at all, from another address: 401');
});
