import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';

/** Each route on its own upstream, so "which upstream got it" is observable. */
async function setup(t: { after(fn: () => Promise<unknown>): void }) {
  const api = await startUpstream();
  const auth = await startUpstream();
  const v2 = await startUpstream();
  const gw = await startGateway(`rate_limit: { requests_per_second: 1, burst: 100 }
routes:
${routesYaml([
  { path: '/api', upstream: api.url },
  { path: '/api/v2', upstream: v2.url, extra: 'rate_limit: { requests_per_second: 1, burst: 1 }' },
  { path: '/auth', upstream: auth.url },
])}`);
  t.after(() => Promise.all([gw.close(), api.close(), auth.close(), v2.close()]));
  return { gw, api, auth, v2 };
}

const last = (u: TestUpstream) => u.seen.at(-1)?.url;

test('dot segments and encoded dots are resolved before routing: the route table decides', async (t) => {
  const { gw, api, auth } = await setup(t);
  for (const p of ['/api/../auth/login', '/api/%2e%2e/auth/login', '/api/.%2E/auth/login', '/api/./../auth/./login']) {
    const before = api.seen.length;
    const r = await send(gw.url, p);
    assert.equal(r.status, 200, p);
    assert.equal(last(auth), '/auth/login', `${p} is /auth/login, and only the /auth upstream sees it`);
    assert.equal(api.seen.length, before, `${p} never reached /api's upstream`);
  }
});

test('no path escapes a route on the upstream side', async (t) => {
  const { gw, api } = await setup(t);
  await send(gw.url, '/api/x/../../../etc/passwd');
  assert.equal(api.seen.length, 0, '/etc/passwd matches no route');
  const r = await send(gw.url, '/api/a/%2e%2e/b');
  assert.equal(r.status, 200);
  assert.equal(last(api), '/api/b');
});

test('encoded slashes and backslashes are refused with 400, nothing forwarded', async (t) => {
  const { gw, api, auth, v2 } = await setup(t);
  for (const p of ['/api%2Fv2/x', '/api/..%2Fauth', '/api/..%5Cauth', '/api/..\\auth', '/api/%zz']) {
    const r = await send(gw.url, p);
    assert.equal(r.status, 400, p);
    assert.deepEqual(r.json(), { error: 'bad_request' });
  }
  assert.equal(api.seen.length + auth.seen.length + v2.seen.length, 0);
});

test('double slashes cannot dodge a longer route or its limit', async (t) => {
  const { gw, v2 } = await setup(t);
  assert.equal((await send(gw.url, '/api/v2/x')).status, 200);
  for (const p of ['/api//v2/x', '//api/v2/x', '/api/./v2/x', '/api/v2/../v2/x', '/api/%76%32/x']) {
    const r = await send(gw.url, p);
    assert.equal(r.status, 429, `${p} is /api/v2/x: same route, same (exhausted) bucket`);
  }
  assert.equal(v2.seen.length, 1);
});

test('unrouted paths get 404 {"error":"not_found"} and no segment-prefix confusion', async (t) => {
  const { gw, api } = await setup(t);
  for (const p of ['/apiary', '/', '/nope', '/API/x']) {
    const r = await send(gw.url, p);
    assert.equal(r.status, 404, p);
    assert.deepEqual(r.json(), { error: 'not_found' });
  }
  assert.equal(api.seen.length, 0);
});

test('a method that is not proxied gets 405', async (t) => {
  const { gw, api } = await setup(t);
  const r = await send(gw.url, '/api/x', { method: 'PROPFIND' });
  assert.equal(r.status, 405);
  assert.deepEqual(r.json(), { error: 'method_not_allowed' });
  assert.equal(api.seen.length, 0);
});
