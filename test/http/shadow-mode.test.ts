import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';

// Rates of one token per 1000 s: nothing refills while a test runs, so counts are exact.
async function setup(t: { after(fn: () => Promise<unknown>): void }, path: string, rateLimit: string) {
  const up = await startUpstream();
  const gw = await startGateway(`routes:\n${routesYaml([{ path, upstream: up.url, extra: `rate_limit:\n${rateLimit.replace(/^/gm, '  ')}` }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

const LIMIT_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit', 'ratelimit-policy', 'retry-after'];

async function fire(url: string, path: string, n: number): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await send(url, path, { headers: { 'x-api-key': 'alice' } }));
  return out;
}

test('a shadow limit next to an enforced one: would-be refusals are forwarded, logged and counted, never shown', async (t) => {
  const { up, gw } = await setup(t, '/api', `unverified_key_envelope: false # the key-rotation envelope (test/security) would be listed too
limits:
  - { requests_per_second: 0.001, burst: 2, mode: shadow }
  - { requests_per_second: 0.001, burst: 100 }`);
  const rs = await fire(gw.url, '/api/x', 5);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 200, 200]);
  assert.equal(up.seen.length, 5, 'every request was forwarded');
  assert.deepEqual(gw.accessLines().map((l) => l.decision), ['allowed', 'allowed', 'shadow_limited', 'shadow_limited', 'shadow_limited']);

  // The headers speak of the enforced limit alone, even once the shadow one has run dry.
  assert.deepEqual(rs.map((r) => r.headers['x-ratelimit-limit']), ['100', '100', '100', '100', '100']);
  assert.deepEqual(rs.map((r) => r.headers['x-ratelimit-remaining']), ['99', '98', '97', '96', '95']);
  for (const r of rs) {
    assert.equal(r.headers['ratelimit-policy'], '"/api#2";q=100;w=100000', 'the shadow limit is not listed');
    assert.match(String(r.headers.ratelimit), /^"\/api#2";/);
    assert.equal(r.headers['retry-after'], undefined);
    assert.ok(!JSON.stringify(r.headers).includes('/api#1'), 'no header names the shadow limit');
  }

  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_shadow_limited_total{route="/api",limit="/api#1"}'), 3);
  assert.equal(metrics.get('throttlegate_rate_limited_total{route="/api",plan="anonymous"}') ?? 0, 0, 'nothing was refused');
});

test('the enforced limit still refuses next to a shadow one', async (t) => {
  const { up, gw } = await setup(t, '/api', `limits:
  - { requests_per_second: 0.001, burst: 1, mode: shadow }
  - { requests_per_second: 0.001, burst: 2 }`);
  const rs = await fire(gw.url, '/api/x', 3);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 429]);
  assert.equal(up.seen.length, 2);
  assert.equal(rs[2]!.headers['x-ratelimit-limit'], '2', 'the refusal is the enforced limit\'s');
  assert.deepEqual(gw.accessLines().map((l) => l.decision), ['allowed', 'shadow_limited', 'limited']);
  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_shadow_limited_total{route="/api",limit="/api#1"}'), 1, 'a refused request is not a shadow refusal');
});

test('a policy of only a shadow limit sends no limit headers at all', async (t) => {
  const { up, gw } = await setup(t, '/s', '{ requests_per_second: 0.001, burst: 1, mode: shadow }');
  const rs = await fire(gw.url, '/s', 3);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200]);
  assert.equal(up.seen.length, 3);
  for (const r of rs) for (const h of LIMIT_HEADERS) assert.equal(r.headers[h], undefined, `${h} sent`);
  assert.deepEqual(gw.accessLines().map((l) => l.decision), ['allowed', 'shadow_limited', 'shadow_limited']);
  assert.equal((await scrape(gw.url)).get('throttlegate_shadow_limited_total{route="/s",limit="/s"}'), 2);
});
