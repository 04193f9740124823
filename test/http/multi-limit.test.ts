import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';

// Refill rates are tiny (one token per 1000 s) wherever a test counts, so no
// token comes back while it runs however slow the machine: counts stay exact.

async function setup(t: { after(fn: () => Promise<unknown>): void }, yaml: (upstream: string) => string) {
  const up = await startUpstream();
  const gw = await startGateway(yaml(up.url));
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

async function run(url: string, path: string, client: string, n: number): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await send(url, path, { headers: { 'x-api-key': client } }));
  return out;
}

const statuses = (rs: RawResponse[]) => rs.map((r) => r.status);
const header = (rs: RawResponse[], name: string) => rs.map((r) => r.headers[name]);

test('a per-client limit and a shared route budget: each client is held by whichever runs out first', async (t) => {
  const { up, gw } = await setup(t, (u) => `routes:\n${routesYaml([{ path: '/api', upstream: u, extra: `rate_limit:
  unverified_key_envelope: false # the key-rotation envelope (test/security) would be listed too
  limits:
    - { requests_per_second: 1, burst: 3 }
    - { requests_per_second: 0.001, burst: 5, scope: route }` }])}`);

  // alice: three, then her own limit refuses, three times over.
  const alice = await run(gw.url, '/api/x', 'alice', 6);
  assert.deepEqual(statuses(alice), [200, 200, 200, 429, 429, 429]);
  assert.deepEqual(header(alice, 'x-ratelimit-limit'), ['3', '3', '3', '3', '3', '3'], 'her own limit (3) stays closest to refusing');
  assert.deepEqual(header(alice, 'x-ratelimit-remaining'), ['2', '1', '0', '0', '0', '0']);
  assert.equal(alice[3]!.headers['retry-after'], '1', 'the client bucket frees a token in one second');
  assert.equal(alice[0]!.headers['ratelimit-policy'], '"/api#1";q=3;w=3, "/api#2";q=5;w=5000', 'every enforced limit is listed');
  assert.equal(alice[0]!.headers.ratelimit, '"/api#1";r=2;t=1');

  // bob: his own bucket is full, but only 2 of the route's 5 are left. Had
  // alice's three refusals taken from the route budget, bob would get none.
  const bob = await run(gw.url, '/api/x', 'bob', 3);
  assert.deepEqual(statuses(bob), [200, 200, 429]);
  assert.deepEqual(header(bob, 'x-ratelimit-limit'), ['5', '5', '5'], 'the route budget is now the closer one');
  assert.deepEqual(header(bob, 'x-ratelimit-remaining'), ['1', '0', '0']);
  assert.match(String(bob[2]!.headers['retry-after']), /^(999|1000)$/, 'the route budget frees a token in 1000 s');
  assert.match(String(bob[2]!.headers.ratelimit), /^"\/api#2";r=0;t=\d+$/);

  const carol = await send(gw.url, '/api/x', { headers: { 'x-api-key': 'carol' } });
  assert.equal(carol.status, 429, 'a client never seen before is refused: the route budget is spent');
  assert.equal(carol.headers['x-ratelimit-limit'], '5');
  assert.equal(up.seen.length, 5, 'exactly the five allowed requests were forwarded');
});

test('a refusal by one limit takes nothing from another: the fixed window counts only what passed', async (t) => {
  const { up, gw } = await setup(t, (u) => `routes:\n${routesYaml([{ path: '/w', upstream: u, extra: `rate_limit:
  unverified_key_envelope: false # the key-rotation envelope (test/security) would be listed too
  limits:
    - { requests_per_second: 0.001, burst: 2 }
    - { algorithm: fixed_window, limit: 5, window: 1h, scope: route }` }])}`);

  const alice = await run(gw.url, '/w', 'alice', 5);
  assert.deepEqual(statuses(alice), [200, 200, 429, 429, 429]);
  assert.deepEqual(header(alice, 'x-ratelimit-limit'), ['2', '2', '2', '2', '2']);
  assert.equal(alice[0]!.headers['ratelimit-policy'], '"/w#1";q=2;w=2000, "/w#2";q=5;w=3600');

  const bob = await run(gw.url, '/w', 'bob', 3);
  assert.deepEqual(statuses(bob), [200, 200, 429]);

  // carol's bucket has 1 left after her request, the window 0: the window is
  // now the headline, and its 0 says it counted 4 + 1, not alice's and bob's refusals.
  const carol = await send(gw.url, '/w', { headers: { 'x-api-key': 'carol' } });
  assert.equal(carol.status, 200);
  assert.equal(carol.headers['x-ratelimit-limit'], '5');
  assert.equal(carol.headers['x-ratelimit-remaining'], '0');
  const reset = Number(carol.headers['x-ratelimit-reset']);
  assert.ok(reset >= 1 && reset <= 3600, `Reset is the time to the window's end: ${reset}`);

  const dave = await send(gw.url, '/w', { headers: { 'x-api-key': 'dave' } });
  assert.equal(dave.status, 429, 'the window refuses a fresh client');
  assert.equal(dave.headers['x-ratelimit-limit'], '5', 'the refusing limit is reported, not the one that would allow');
  const retry = Number(dave.headers['retry-after']);
  assert.ok(retry >= reset - 1 && retry <= reset, `Retry-After is the window's end (${retry} vs Reset ${reset})`);
  assert.equal(up.seen.length, 5);
});

test('scope: global is one budget for every route on the default policy; scope: route is one per route', async (t) => {
  const policy = (scope: string) => (u: string) => `rate_limit: { requests_per_second: 0.001, burst: 3, scope: ${scope} }
routes:
${routesYaml([{ path: '/a', upstream: u }, { path: '/b', upstream: u }])}`;
  const global = await setup(t, policy('global'));
  assert.deepEqual(statuses(await run(global.gw.url, '/a', 'alice', 2)), [200, 200]);
  const fromB = await send(global.gw.url, '/b', { headers: { 'x-api-key': 'bob' } });
  assert.equal(fromB.status, 200);
  assert.equal(fromB.headers['x-ratelimit-remaining'], '0', 'another client on another route drew from the same budget');
  assert.equal((await send(global.gw.url, '/b', { headers: { 'x-api-key': 'carol' } })).status, 429);
  assert.equal((await send(global.gw.url, '/a', { headers: { 'x-api-key': 'dave' } })).status, 429);

  const perRoute = await setup(t, policy('route'));
  assert.deepEqual(statuses(await run(perRoute.gw.url, '/a', 'alice', 4)), [200, 200, 200, 429]);
  const other = await send(perRoute.gw.url, '/b', { headers: { 'x-api-key': 'alice' } });
  assert.equal(other.status, 200, '/b has its own budget');
  assert.equal(other.headers['x-ratelimit-remaining'], '2');
});

test('cost: 5 takes five tokens per request', async (t) => {
  const { up, gw } = await setup(t, (u) => `routes:\n${routesYaml([
    { path: '/search', upstream: u, extra: 'cost: 5\nrate_limit: { requests_per_second: 0.001, burst: 20 }' },
  ])}`);
  const rs = await run(gw.url, '/search', 'alice', 5);
  assert.deepEqual(statuses(rs), [200, 200, 200, 200, 429]);
  assert.deepEqual(header(rs, 'x-ratelimit-remaining'), ['15', '10', '5', '0', '0']);
  assert.equal(rs[0]!.headers['x-ratelimit-limit'], '20');
  assert.match(String(rs[4]!.headers['retry-after']), /^(4999|5000)$/, 'five tokens at 0.001/s');
  assert.equal(up.seen.length, 4);
});
