import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from './upstream.js';
import { startGateway } from './gateway.js';
import { routesYaml, send } from './http.js';

/**
 * The limit semantics every store must give through the real request path:
 * 429 body and headers, Retry-After math, per-client and per-route buckets.
 * `storeYaml` returns the `store:` section ('' for the default memory store);
 * it is called once per gateway, so each test can get fresh buckets.
 */
export function runLimitSuite(name: string, storeYaml: () => string): void {
  async function setup(t: { after(fn: () => Promise<unknown>): void }) {
    const up = await startUpstream();
    // The key-rotation envelope is off: these clients are keys, and the headers would list it (test/security/key-rotation.test.ts).
    const yaml = `rate_limit: { requests_per_second: 0.5, burst: 3, unverified_key_envelope: false }
routes:
${routesYaml([
    { path: '/api', upstream: up.url },
    { path: '/auth', upstream: up.url },
    { path: '/api/v2', upstream: up.url, extra: 'rate_limit: { requests_per_second: 1, burst: 2 }' },
  ])}`;
    const gw = await startGateway(storeYaml() + yaml);
    t.after(() => Promise.all([gw.close(), up.close()]));
    return { up, gw };
  }

  test(`${name}: over the limit: 429 with JSON body, Retry-After and both header families; nothing forwarded`, async (t) => {
    const { up, gw } = await setup(t);
    const key = { 'x-api-key': 'alice' };
    const allowed = [];
    for (let i = 0; i < 3; i++) allowed.push(await send(gw.url, '/api/x', { headers: key }));
    assert.deepEqual(allowed.map((r) => r.status), [200, 200, 200]);
    assert.deepEqual(allowed.map((r) => r.headers['x-ratelimit-remaining']), ['2', '1', '0']);
    assert.equal(allowed[0]!.headers['x-ratelimit-limit'], '3');
    assert.equal(allowed[0]!.headers['ratelimit-policy'], '"default";q=3;w=6');
    assert.match(String(allowed[0]!.headers.ratelimit), /^"default";r=2;t=2$/);
    const forwardedBefore = up.seen.length;

    const refused = await send(gw.url, '/api/x', { headers: key });
    assert.equal(refused.status, 429);
    assert.match(String(refused.headers['content-type']), /^application\/json/);
    assert.deepEqual(refused.json(), { error: 'rate_limited', retry_after: 2 });
    assert.equal(refused.headers['retry-after'], '2', 'ceil((1 - 0) / 0.5)');
    assert.equal(refused.headers['x-ratelimit-remaining'], '0');
    assert.equal(refused.headers['x-ratelimit-limit'], '3');
    assert.equal(refused.headers['x-ratelimit-reset'], '6');
    assert.equal(refused.headers.ratelimit, '"default";r=0;t=6');
    assert.equal(up.seen.length, forwardedBefore, 'a refused request never reaches the upstream');
  });

  test(`${name}: one client's flood does not touch another client`, async (t) => {
    const { gw } = await setup(t);
    for (let i = 0; i < 6; i++) await send(gw.url, '/api/x', { headers: { 'x-api-key': 'flooder' } });
    const other = await send(gw.url, '/api/x', { headers: { 'x-api-key': 'innocent' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers['x-ratelimit-remaining'], '2');
  });

  test(`${name}: without an API key the client is its IP`, async (t) => {
    const { gw } = await setup(t);
    for (let i = 0; i < 3; i++) assert.equal((await send(gw.url, '/api/x')).status, 200);
    assert.equal((await send(gw.url, '/api/x')).status, 429);
    assert.equal((await send(gw.url, '/api/x', { headers: { 'x-api-key': 'k' } })).status, 200, 'a key is a different client');
  });

  test(`${name}: routes on the default policy share one bucket per client; a route with its own limit has its own`, async (t) => {
    const { gw } = await setup(t);
    const key = { 'x-api-key': 'bob' };
    await send(gw.url, '/api/a', { headers: key });
    await send(gw.url, '/auth/b', { headers: key });
    const third = await send(gw.url, '/api/c', { headers: key });
    assert.equal(third.headers['x-ratelimit-remaining'], '0', '/api and /auth drew from one bucket');
    assert.equal((await send(gw.url, '/auth/d', { headers: key })).status, 429);
    const v2 = await send(gw.url, '/api/v2/x', { headers: key });
    assert.equal(v2.status, 200, '/api/v2 has its own bucket');
    assert.equal(v2.headers['x-ratelimit-limit'], '2');
    assert.equal(v2.headers['ratelimit-policy'], '"/api/v2";q=2;w=2');
  });

  test(`${name}: headers option turns a family off`, async (t) => {
    const up = await startUpstream();
    const gw = await startGateway(storeYaml() + `rate_limit: { requests_per_second: 1, burst: 1, headers: { draft: false } }
routes:
${routesYaml([{ path: '/a', upstream: up.url }, { path: '/b', upstream: up.url, extra: 'rate_limit: { headers: { legacy: false, draft: true } }' }])}`);
    t.after(() => Promise.all([gw.close(), up.close()]));
    const a = await send(gw.url, '/a');
    assert.equal(a.headers['x-ratelimit-limit'], '1');
    assert.equal(a.headers.ratelimit, undefined);
    const b = await send(gw.url, '/b');
    assert.equal(b.headers['x-ratelimit-limit'], undefined);
    assert.equal(b.headers['ratelimit-policy'], '"/b";q=1;w=1');
    const refused = await send(gw.url, '/b');
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '1', 'Retry-After is sent whatever the families');
  });

  test(`${name}: an upstream's own rate-limit headers never override the gateway's`, async (t) => {
    const up = await startUpstream((_req, res) => res.writeHead(200, { 'x-ratelimit-remaining': '999', ratelimit: 'bogus' }).end('ok'));
    const gw = await startGateway(storeYaml() + `rate_limit: { requests_per_second: 1, burst: 5 }\nroutes:\n${routesYaml([{ path: '/a', upstream: up.url }])}`);
    t.after(() => Promise.all([gw.close(), up.close()]));
    const r = await send(gw.url, '/a');
    assert.equal(r.headers['x-ratelimit-remaining'], '4');
    assert.equal(r.headers.ratelimit, '"default";r=4;t=1');
  });

  test(`${name}: routes with rate_limit: false are never limited and carry no limit headers`, async (t) => {
    const up = await startUpstream();
    const gw = await startGateway(storeYaml() + `rate_limit: { requests_per_second: 1, burst: 1 }\nroutes:\n${routesYaml([{ path: '/open', upstream: up.url, extra: 'rate_limit: false' }])}`);
    t.after(() => Promise.all([gw.close(), up.close()]));
    for (let i = 0; i < 5; i++) {
      const r = await send(gw.url, '/open');
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-ratelimit-limit'], undefined);
    }
  });
}
