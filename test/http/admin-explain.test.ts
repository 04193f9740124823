import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

const TOKEN = 'ops-token-0123456789abcdef';

interface Explained { route: { path: string } | null; refusal: string | null; client: { label: string } | null; decision: string; status: number; limits: { id: string; remaining: number; allowed: boolean }[] }
interface Probe { method?: string; path: string; ip: string; headers?: Record<string, string> }

// Burst 1 at 0.01/s: one request spends a client's budget for the whole test.
async function setup(t: { after(fn: () => Promise<unknown>): void }, exposeMetrics = false) {
  const up = await startUpstream();
  const gw = await startGateway(`server: { trust_proxy: true }
admin: { token: "${TOKEN}", expose_metrics: ${exposeMetrics} }
api_keys:
  - { id: acme, hash: "${hashApiKey('secret-acme')}" }
deny: [192.0.2.0/24]
rate_limit: { requests_per_second: 0.01, burst: 1 }
routes:
${routesYaml([
    { path: '/api', upstream: up.url },
    { path: '/ro', upstream: up.url, extra: 'methods: [GET]' },
    { path: '/keyed', upstream: up.url, extra: 'require_api_key: true' },
    { path: '/open', upstream: up.url, extra: 'rate_limit: false' },
  ])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

async function explain(gw: TestGateway, p: Probe): Promise<Explained> {
  const q = new URLSearchParams({ path: p.path, ip: p.ip, ...(p.method ? { method: p.method } : {}) });
  for (const [name, value] of Object.entries(p.headers ?? {})) q.set(`header.${name}`, value);
  const res = await send(gw.adminUrl!, `/v1/explain?${q}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200, res.text);
  return res.json<Explained>();
}

/** The same request through the gateway: its status and its access line's decision. */
async function through(gw: TestGateway, p: Probe): Promise<{ status: number; decision: unknown }> {
  const before = gw.accessLines().length;
  const res = await send(gw.url, p.path, { method: p.method ?? 'GET', headers: { 'x-forwarded-for': p.ip, ...p.headers } });
  const line = await waitFor('the access line', () => gw.accessLines()[before]);
  assert.equal(line.status, res.status);
  return { status: res.status, decision: line.decision };
}

/** Explains, then sends: the gateway must do exactly what explain said. */
async function agree(gw: TestGateway, p: Probe, expected: { decision: string; status: number }): Promise<Explained> {
  const said = await explain(gw, p);
  assert.deepEqual({ decision: said.decision, status: said.status }, expected, `explain ${JSON.stringify(p)}`);
  assert.deepEqual(await through(gw, p), expected, `gateway ${JSON.stringify(p)}`);
  return said;
}

test('explain: a path no route takes is the gateway\'s 404, and a method the route refuses its 405', async (t) => {
  const { up, gw } = await setup(t);
  const missing = await agree(gw, { path: '/nowhere/x', ip: '198.51.100.1' }, { decision: 'none', status: 404 });
  assert.deepEqual([missing.route, missing.refusal, missing.client], [null, 'not_found', null]);
  const wrong = await agree(gw, { method: 'POST', path: '/ro/x', ip: '198.51.100.1' }, { decision: 'none', status: 405 });
  assert.equal(wrong.refusal, 'method_not_allowed');
  await agree(gw, { method: 'GET', path: '/ro/x', ip: '198.51.100.1' }, { decision: 'allowed', status: 200 });
  assert.equal(up.seen.length, 1);
});

test('explain: a denied address is 403 denied; a require_api_key route without a key is 401, with one it passes', async (t) => {
  const { gw } = await setup(t);
  const denied = await agree(gw, { path: '/api/x', ip: '192.0.2.9' }, { decision: 'denied', status: 403 });
  assert.equal(denied.client?.label, 'ip:192.0.2.9');
  await agree(gw, { path: '/keyed/x', ip: '198.51.100.2' }, { decision: 'invalid_api_key', status: 401 });
  await agree(gw, { path: '/keyed/x', ip: '198.51.100.2', headers: { 'x-api-key': 'wrong-key' } }, { decision: 'invalid_api_key', status: 401 });
  const keyed = await agree(gw, { path: '/keyed/x', ip: '198.51.100.2', headers: { 'x-api-key': 'secret-acme' } }, { decision: 'allowed', status: 200 });
  assert.equal(keyed.client?.label, 'id:acme');
  await agree(gw, { path: '/keyed/x', ip: '192.0.2.9', headers: { 'x-api-key': 'secret-acme' } }, { decision: 'denied', status: 403 });
});

test('explain: an allowed request, then the same client limited; explaining consumes nothing', async (t) => {
  const { gw } = await setup(t);
  const probe = { path: '/api/x', ip: '198.51.100.3' };
  for (let i = 0; i < 3; i++) assert.equal((await explain(gw, probe)).decision, 'allowed', 'a dry run, every time');
  const allowed = await agree(gw, probe, { decision: 'allowed', status: 200 });
  assert.deepEqual(allowed.route?.path, '/api');
  assert.deepEqual(allowed.limits.map((l) => [l.id, l.remaining, l.allowed]), [['default', 1, true]]);
  const limited = await agree(gw, probe, { decision: 'limited', status: 429 });
  assert.deepEqual(limited.limits.map((l) => [l.id, l.remaining, l.allowed]), [['default', 0, false]]);
  await agree(gw, { path: '/api/x', ip: '198.51.100.4' }, { decision: 'allowed', status: 200 });
  await agree(gw, { path: '/open/x', ip: '198.51.100.3' }, { decision: 'unlimited', status: 200 });
});

test('explain: an override block and an override limit are what the gateway applies', async (t) => {
  const { gw } = await setup(t);
  const put = (key: string, body: unknown) =>
    send(gw.adminUrl!, `/v1/limits/${key}`, { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal((await put('ip:198.51.100.5', { block: true })).status, 200);
  await agree(gw, { path: '/api/x', ip: '198.51.100.5' }, { decision: 'blocked', status: 403 });
  assert.equal((await put('id:acme', { requests_per_second: 0.01, burst: 2 })).status, 200);
  const acme = { path: '/api/x', ip: '198.51.100.6', headers: { 'x-api-key': 'secret-acme' } };
  await agree(gw, acme, { decision: 'allowed', status: 200 });
  await agree(gw, acme, { decision: 'allowed', status: 200 });
  await agree(gw, acme, { decision: 'limited', status: 429 });
});

test('explain: the gateway\'s own endpoints answer GET and HEAD only, and /metrics not once expose_metrics moved it (regression)', async (t) => {
  for (const exposeMetrics of [false, true]) {
    const { up, gw } = await setup(t, exposeMetrics);
    const ip = '198.51.100.7';
    await agree(gw, { path: '/health', ip }, { decision: 'none', status: 200 });
    await agree(gw, { method: 'HEAD', path: '/ready', ip }, { decision: 'none', status: 200 });
    await agree(gw, { method: 'POST', path: '/health', ip }, { decision: 'none', status: 404 });
    await agree(gw, { method: 'DELETE', path: '/api/../ready', ip }, { decision: 'none', status: 404 });
    await agree(gw, { path: '/metrics', ip }, { decision: 'none', status: exposeMetrics ? 404 : 200 });
    assert.equal(up.seen.length, 0, 'never proxied');
  }
});

test('explain: bad queries are 400 naming the field', async (t) => {
  const { gw } = await setup(t);
  for (const [query, field] of [['ip=1.2.3.4', 'path'], ['path=/x&colour=red', 'colour'], ['path=/x&method=GE%20T', 'method']] as const) {
    const res = await send(gw.adminUrl!, `/v1/explain?${query}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 400, query);
    assert.deepEqual(res.json<{ problems: { path: string }[] }>().problems.map((p) => p.path), [field], res.text);
  }
});
