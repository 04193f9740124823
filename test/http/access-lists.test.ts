import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

// trust_proxy: true makes the leftmost X-Forwarded-For the client address, so
// one test can speak from many addresses over loopback.
async function setup(t: { after(fn: () => Promise<unknown>): void }, yaml: (upstream: string) => string) {
  const up = await startUpstream();
  const gw = await startGateway(`server: { trust_proxy: true }\n${yaml(up.url)}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

const from = (ip: string, extra: Record<string, string> = {}) => ({ headers: { 'x-forwarded-for': ip, ...extra } });
const keysYaml = (...ids: string[]) => `api_keys:\n${ids.map((id) => `  - { id: ${id}, hash: "${hashApiKey(`secret-${id}`)}" }`).join('\n')}\n`;
const LIMIT_HEADERS = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'ratelimit', 'ratelimit-policy', 'retry-after'];

test('deny by CIDR: 403 forbidden, nothing reaches the origin, decision denied', async (t) => {
  const { up, gw } = await setup(t, (u) => `rate_limit: { requests_per_second: 1, burst: 5 }
deny: [192.0.2.0/24, 127.0.0.1]
routes:\n${routesYaml([{ path: '/api', upstream: u }])}`);
  const refused = await send(gw.url, '/api/x', from('192.0.2.77'));
  assert.equal(refused.status, 403);
  assert.match(String(refused.headers['content-type']), /^application\/json/);
  assert.deepEqual(refused.json(), { error: 'forbidden' });
  assert.equal(refused.headers['x-ratelimit-limit'], undefined, 'denied before any limit is consulted');
  assert.equal((await send(gw.url, '/api/x')).status, 403, 'a bare address entry matches the socket peer');
  assert.equal(up.seen.length, 0, 'the origin saw nothing');
  assert.equal((await send(gw.url, '/api/x', from('198.51.100.1'))).status, 200, 'other addresses pass');
  assert.deepEqual(gw.accessLines().map((l) => [l.client, l.decision, l.status]), [
    ['ip:192.0.2.77', 'denied', 403],
    ['ip:127.0.0.1', 'denied', 403],
    ['ip:198.51.100.1', 'allowed', 200],
  ]);
});

test('deny by api key id: that key is refused from any address; other keys pass', async (t) => {
  const { up, gw } = await setup(t, (u) => `${keysYaml('trial-42', 'acme')}deny: [trial-42]
routes:\n${routesYaml([{ path: '/api', upstream: u }])}`);
  const refused = await send(gw.url, '/api/x', from('198.51.100.1', { 'x-api-key': 'secret-trial-42' }));
  assert.equal(refused.status, 403);
  assert.deepEqual(refused.json(), { error: 'forbidden' });
  assert.equal((await send(gw.url, '/api/x', from('198.51.100.1', { 'x-api-key': 'secret-acme' }))).status, 200);
  assert.equal((await send(gw.url, '/api/x', from('198.51.100.1'))).status, 200, 'the same address without the key passes');
  assert.equal(up.seen.length, 2);
  const line = gw.accessLines()[0]!;
  assert.equal(line.decision, 'denied');
  assert.equal(line.key_id, 'trial-42');
});

test('allow by CIDR and by key id bypasses every limit, without limit headers, still counted', async (t) => {
  const { up, gw } = await setup(t, (u) => `${keysYaml('partner')}rate_limit: { requests_per_second: 0.001, burst: 1 }
allow: [10.0.0.0/8, partner]
routes:\n${routesYaml([{ path: '/api', upstream: u }])}`);
  for (const who of [from('10.1.2.3'), from('198.51.100.9', { 'x-api-key': 'secret-partner' })]) {
    for (let i = 0; i < 10; i++) {
      const r = await send(gw.url, '/api/x', who);
      assert.equal(r.status, 200);
      for (const h of LIMIT_HEADERS) assert.equal(r.headers[h], undefined, `${h} on a bypassed response`);
    }
  }
  assert.equal(up.seen.length, 20);
  const lines = gw.accessLines();
  assert.deepEqual([...new Set(lines.map((l) => l.decision))], ['bypassed']);
  assert.equal(lines.at(-1)!.key_id, 'partner');

  // Everyone else is still limited: burst 1, then 429.
  assert.equal((await send(gw.url, '/api/x', from('198.51.100.1'))).status, 200);
  assert.equal((await send(gw.url, '/api/x', from('198.51.100.1'))).status, 429);
  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_requests_total{route="/api",method="GET",status="200"}'), 21);
  assert.equal(metrics.get('throttlegate_rate_limited_total{route="/api",plan="anonymous"}'), 1, 'bypassed requests are never counted as limited');
});

test('route-level lists add to the top-level ones', async (t) => {
  const { gw } = await setup(t, (u) => `rate_limit: { requests_per_second: 0.001, burst: 1 }
allow: [10.0.0.0/8]
deny: [192.0.2.0/24]
routes:\n${routesYaml([
    { path: '/plain', upstream: u },
    { path: '/strict', upstream: u, extra: 'allow: [172.16.0.0/12]\ndeny: [198.51.100.0/24]' },
  ])}`);
  assert.equal((await send(gw.url, '/strict', from('192.0.2.1'))).status, 403, 'the top-level deny still applies');
  assert.equal((await send(gw.url, '/strict', from('198.51.100.1'))).status, 403, 'the route adds its own deny');
  assert.equal((await send(gw.url, '/plain', from('198.51.100.1'))).status, 200, '...only to itself');
  for (let i = 0; i < 3; i++) {
    assert.equal((await send(gw.url, '/strict', from('10.0.0.1'))).status, 200, 'the top-level allow still applies');
    assert.equal((await send(gw.url, '/strict', from('172.16.5.5'))).status, 200, 'the route adds its own allow');
  }
  assert.equal((await send(gw.url, '/plain', from('172.16.5.5'))).status, 200);
  assert.equal((await send(gw.url, '/plain', from('172.16.5.5'))).status, 429, 'the route allow does not reach /plain');
});

test('deny wins over allow, for addresses and for keys', async (t) => {
  const { up, gw } = await setup(t, (u) => `${keysYaml('partner')}rate_limit: { requests_per_second: 0.001, burst: 1 }
allow: [10.0.0.0/8, partner]
deny: [10.9.0.0/16]
routes:\n${routesYaml([{ path: '/api', upstream: u }])}`);
  assert.equal((await send(gw.url, '/api/x', from('10.9.1.1'))).status, 403, 'inside both: denied');
  assert.equal((await send(gw.url, '/api/x', from('10.9.1.1', { 'x-api-key': 'secret-partner' }))).status, 403, 'an allowed key from a denied address: denied');
  assert.equal((await send(gw.url, '/api/x', from('10.1.1.1'))).status, 200);
  assert.equal(up.seen.length, 1);
  assert.deepEqual(gw.accessLines().map((l) => l.decision), ['denied', 'denied', 'bypassed']);
});
