import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { redisAvailable, startRedis } from '../helpers/redis.js';
import { hashApiKey } from '../../src/limit/api-keys.js';
import { parseConfig } from '../../src/config/load.js';
import { simulate } from '../../src/admin/simulate.js';

// Key rotation: without api_keys, an x-api-key is whatever the client sends. A client that sends a fresh
// random key per request must still meet a limit: every unverified key of one address shares an envelope.
//
// Per key 2 requests, refilling one per 1000 s; the default envelope (x10) is 20 per address, one per 100 s:
// nothing refills while a test runs unless it runs for minutes, and the expectations allow for that, measured.
const PER_KEY = 'requests_per_second: 0.001, burst: 2, key: [header:x-api-key, ip]';
const REQUESTS = 200;
const TOKEN = 'ops-token-0123456789abcdef';

async function setup(t: { after(fn: () => Promise<unknown>): void }, policy: string, head = ''): Promise<TestGateway> {
  const up = await startUpstream();
  const gw = await startGateway(`${head}rate_limit: { ${policy} }\nroutes:\n${routesYaml([{ path: '/', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return gw;
}

/** One GET from a chosen loopback address (any of 127.0.0.0/8), on a connection of its own. */
function get(gw: TestGateway, headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path: '/x', headers, localAddress, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.from(text), text, json: () => JSON.parse(text) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const freshKey = () => randomBytes(16).toString('hex');

/** REQUESTS requests, each with a fresh random key; the statuses in order and the seconds they took. */
async function rotate(gw: TestGateway, localAddress?: string, extra: Record<string, string> = {}): Promise<{ statuses: number[]; last429?: RawResponse; seconds: number }> {
  const started = performance.now();
  const statuses: number[] = [];
  let last429: RawResponse | undefined;
  for (let i = 0; i < REQUESTS; i++) {
    const res = await get(gw, { 'x-api-key': freshKey(), ...extra }, localAddress);
    statuses.push(res.status);
    if (res.status === 429) last429 = res;
  }
  return { statuses, last429, seconds: (performance.now() - started) / 1000 };
}

/** The envelope admits its budget (20), plus a token per 100 s of the run: then every fresh key is refused. */
function assertEnvelope(statuses: number[], seconds: number, budget = 20, perSecond = 0.01): void {
  const allowed = statuses.filter((s) => s === 200).length;
  const most = budget + Math.floor(seconds * perSecond);
  assert.ok(allowed >= budget && allowed <= most, `allowed ${allowed} of ${statuses.length} in ${seconds.toFixed(1)} s; the envelope holds ${budget}`);
  assert.deepEqual(statuses.slice(0, budget), Array(budget).fill(200), 'the first keys pass');
  assert.ok(statuses.every((s) => s === 200 || s === 429), `only 200 and 429: ${[...new Set(statuses)].join(',')}`);
  // No token came back during the run (the usual case): every key after the budget is refused.
  if (most === budget) assert.deepEqual(statuses.slice(budget), Array(statuses.length - budget).fill(429), 'then refusals arrive');
}

/** A refusal by the envelope is told like any limit's: the catalogue's body, Retry-After, the envelope in the policy. */
function assertEnvelopeRefusal(res: RawResponse | undefined, id = 'default#envelope', quota = 20): void {
  assert.ok(res, 'some request was refused');
  const body = res.json();
  assert.equal(body.error, 'rate_limited', res.text);
  assert.ok(Number(res.headers['retry-after']) >= 1 && body.retry_after === Number(res.headers['retry-after']), `Retry-After: ${res.headers['retry-after']}`);
  assert.match(String(res.headers['ratelimit-policy']), new RegExp(`"${id}";q=${quota};w=\\d+`), 'RateLimit-Policy lists the envelope');
  assert.match(String(res.headers.ratelimit), new RegExp(`^"${id}";r=0;t=\\d+$`), 'RateLimit names the envelope as the limit that refused');
  assert.equal(res.headers['x-ratelimit-limit'], String(quota));
}

test('200 fresh random keys from one address: refusals arrive once the address envelope is spent', async (t) => {
  const gw = await setup(t, PER_KEY);
  const { statuses, last429, seconds } = await rotate(gw);
  assertEnvelope(statuses, seconds);
  assertEnvelopeRefusal(last429);
  // The refusals were the envelope's, not the memory store's cap, and stored nothing.
  assert.equal(gw.gateway.store.size(), statuses.filter((s) => s === 200).length + 1, 'one state per allowed key, plus the envelope');
});

test('a second address is unaffected: its keys have an envelope of their own', async (t) => {
  const gw = await setup(t, PER_KEY);
  const first = await rotate(gw, '127.0.0.1');
  assert.equal(first.statuses.at(-1), 429);
  const other = await get(gw, { 'x-api-key': freshKey() }, '127.0.0.2');
  assert.equal(other.status, 200, other.text);
  assert.equal(other.headers['x-ratelimit-remaining'], '1', "the per-key limit is the headline: the other address's envelope is nearly full");
});

test('cases that already hold: one key keeps its own limit, a client without a key is limited by its address', async (t) => {
  const gw = await setup(t, PER_KEY);
  const key = freshKey();
  const own = [await get(gw, { 'x-api-key': key }), await get(gw, { 'x-api-key': key }), await get(gw, { 'x-api-key': key })];
  assert.deepEqual(own.map((r) => r.status), [200, 200, 429], 'the per-key limit binds as before');
  assert.match(String(own[2]?.headers.ratelimit), /^"default";r=0;/, 'refused by the key, not the envelope');
  assert.match(String(own[0]?.headers['ratelimit-policy']), /^"default";q=2;w=2000, "default#envelope";q=20;w=2000$/);
  const anonymous = [await get(gw, {}), await get(gw, {}), await get(gw, {})];
  assert.deepEqual(anonymous.map((r) => r.status), [200, 200, 429]);
  assert.equal(anonymous[0]?.headers['ratelimit-policy'], '"default";q=2;w=2000', 'an address-keyed client has no envelope: its key is its address');
});

test('unverified_key_envelope: false restores the old behaviour (every fresh key passes)', async (t) => {
  const gw = await setup(t, `${PER_KEY}, unverified_key_envelope: false`);
  const { statuses } = await rotate(gw);
  assert.equal(statuses.filter((s) => s === 200).length, REQUESTS);
});

test('a route sets its own multiplier; each policy has its own envelope', async (t) => {
  const up = await startUpstream();
  const routes = routesYaml([
    { path: '/', upstream: up.url },
    { path: '/r', upstream: up.url, extra: 'rate_limit: { unverified_key_envelope: { multiplier: 3 } }' },
  ]);
  const gw = await startGateway(`rate_limit: { ${PER_KEY} }\nroutes:\n${routes}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const statuses: number[] = [];
  let last: RawResponse | undefined;
  for (let i = 0; i < 10; i++) {
    last = await send(gw.url, '/r/x', { headers: { 'x-api-key': freshKey() } });
    statuses.push(last.status);
  }
  assert.deepEqual(statuses, [...Array(6).fill(200), ...Array(4).fill(429)], 'the per-key limits (2) times 3');
  assertEnvelopeRefusal(last, '/r#envelope', 6);
  assert.equal((await get(gw, { 'x-api-key': freshKey() })).status, 200, "the default policy's envelope is another budget");
});

test('IPv6: keys from anywhere in one /64 share its envelope; the next /64 has its own', async (t) => {
  const gw = await setup(t, PER_KEY, 'server: { trust_proxy: true }\n');
  const from = (addr: string) => get(gw, { 'x-api-key': freshKey(), 'x-forwarded-for': addr });
  const statuses: number[] = [];
  for (let i = 1; i <= 25; i++) statuses.push((await from(`2001:db8:0:7::${i.toString(16)}`)).status);
  assert.deepEqual(statuses.slice(0, 20), Array(20).fill(200));
  assert.deepEqual(statuses.slice(20), Array(5).fill(429), 'other hosts of the same /64 are the same client address');
  assert.equal((await from('2001:db8:0:8::1')).status, 200, 'the next /64 is another address');
});

test('api_keys configured: an unknown key is keyed by its address, as before (no envelope needed)', async (t) => {
  const gw = await setup(t, PER_KEY, `api_keys:\n  - { id: acme, hash: "${hashApiKey('acme-key')}" }\n`);
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await get(gw, { 'x-api-key': freshKey() })).status);
  assert.deepEqual(statuses, [200, 200, 429, 429]);
  assert.equal((await get(gw, { 'x-api-key': 'acme-key' })).status, 200, 'a verified key has its own budget, outside any envelope');
});

test('explain sees the envelope: it goes through the same limit sets as the request path', async (t) => {
  const gw = await setup(t, PER_KEY, `admin: { token: "${TOKEN}" }\n`);
  await rotate(gw);
  const q = new URLSearchParams({ path: '/x', ip: '127.0.0.1', 'header.x-api-key': freshKey() });
  const res = await send(gw.adminUrl!, `/v1/explain?${q}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const said = res.json<{ decision: string; status: number; limits: { id: string; scope: string; allowed: boolean }[] }>();
  assert.equal(said.decision, 'limited', res.text);
  assert.deepEqual(said.limits.map((l) => [l.id, l.scope, l.allowed]), [['default', 'client', true], ['default#envelope', 'address', false]]);
  const elsewhere = new URLSearchParams({ path: '/x', ip: '127.0.0.2', 'header.x-api-key': freshKey() });
  assert.equal((await send(gw.adminUrl!, `/v1/explain?${elsewhere}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json().decision, 'allowed');
});

test('simulate sees the envelope: a replayed log of rotating keys is refused as the gateway would', () => {
  const config = parseConfig(`rate_limit: { ${PER_KEY} }\nroutes:\n${routesYaml([{ path: '/', upstream: 'http://127.0.0.1:8000' }])}`, 'sim.yaml', {});
  const at = Date.UTC(2026, 0, 1);
  const line = (i: number, ip: string) => JSON.stringify({ time: at + i, method: 'GET', path: '/x', ip, key: `key-${ip}-${i}` });
  const report = simulate(config, [...Array.from({ length: 30 }, (_, i) => line(i, '10.0.0.1')), line(30, '10.0.0.2')]);
  const row = report.routes.find((r) => r.group === 'default+unverified_key');
  assert.ok(row, JSON.stringify(report.routes));
  assert.deepEqual([row.allowed, row.refused], [21, 10], "20 keys of the first address, 1 of the second; the first's other 10 refused");
});

if (!redisAvailable()) {
  test('key rotation on Redis', { skip: 'redis-server not on PATH (see the message above)' }, () => {});
} else {
  test('on Redis: 200 fresh keys from one address meet the envelope; a second address is unaffected', async (t) => {
    const redis = await startRedis();
    t.after(() => redis.stop());
    // on_error closed: a pass or refusal the local fallback made would be a 503 instead, so every answer is Redis's.
    const gw = await setup(t, PER_KEY, `store:\n  type: redis\n  redis: { url: "${redis.url}", timeout_ms: 1000, on_error: closed }\n`);
    const { statuses, last429, seconds } = await rotate(gw);
    assertEnvelope(statuses, seconds);
    assertEnvelopeRefusal(last429);
    assert.equal((await get(gw, { 'x-api-key': freshKey() }, '127.0.0.2')).status, 200);
  });
}
