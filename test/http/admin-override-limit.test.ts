import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

const TOKEN = 'ops-token-0123456789abcdef';
const ACME = { headers: { 'x-api-key': 'secret-acme' } };

async function setup(t: { after(fn: () => Promise<unknown>): void }) {
  const up = await startUpstream();
  const gw = await startGateway(`admin: { token: "${TOKEN}" }
api_keys:
  - { id: acme, hash: "${hashApiKey('secret-acme')}", plan: free }
plans:
  free: { limits: [ { requests_per_second: 0.01, burst: 5 } ] }
rate_limit: { requests_per_second: 0.01, burst: 4 }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

const admin = (gw: TestGateway, method: string, path: string, body?: unknown) => adminSend(gw, TOKEN, method, path, body);

/** Statuses of `n` requests through the gateway, and the limit the last one was told. */
async function burst(gw: TestGateway, n: number) {
  const statuses: number[] = [];
  let limit: unknown;
  for (let i = 0; i < n; i++) {
    const res = await send(gw.url, '/api/x', ACME);
    statuses.push(res.status);
    limit = res.headers['x-ratelimit-limit'];
  }
  return { statuses, limit };
}

test('PUT /v1/limits/:key { requests_per_second, burst, expires_in }: the client gets exactly that limit through the gateway', async (t) => {
  const { up, gw } = await setup(t);
  assert.equal((await send(gw.url, '/api/x', ACME)).headers['x-ratelimit-limit'], '5', 'the plan, before');
  const before = Date.now();
  const set = await admin(gw, 'PUT', '/v1/limits/id:acme', { requests_per_second: 0.01, burst: 2, expires_in: '1h' });
  assert.equal(set.status, 200, set.text);
  const body = set.json<{ key: string; override: { kind: string; requests_per_second: number; burst: number; expires_at: string; set_by: string } }>();
  assert.equal(body.key, 'id:acme');
  assert.deepEqual({ ...body.override, expires_at: undefined }, { kind: 'limit', requests_per_second: 0.01, burst: 2, expires_at: undefined, set_by: 'admin' });
  const expiresIn = Date.parse(body.override.expires_at) - before;
  assert.ok(expiresIn >= 3_600_000 && expiresIn < 3_600_000 + 5_000, `expires in an hour (${expiresIn} ms)`);

  const seenBefore = up.seen.length;
  const { statuses, limit } = await burst(gw, 3);
  assert.deepEqual(statuses, [200, 200, 429], 'burst 2, then refused: a fresh bucket, not the plan\'s');
  assert.equal(limit, '2');
  assert.equal(up.seen.length, seenBefore + 2);
  assert.equal((await send(gw.url, '/api/x')).headers['x-ratelimit-limit'], '4', 'another client keeps the default');
  const shown = await admin(gw, 'GET', '/v1/limits/id:acme');
  assert.deepEqual(shown.json<{ override: unknown }>().override, body.override);
});

test('a changed override takes effect at once; the audit lines say who, what, before and after; no token or key is logged', async (t) => {
  const { gw } = await setup(t);
  const first = (await admin(gw, 'PUT', '/v1/limits/id:acme', { requests_per_second: 0.01, burst: 1 })).json<{ override: unknown }>().override;
  assert.deepEqual((await burst(gw, 2)).statuses, [200, 429]);
  const second = (await admin(gw, 'PUT', '/v1/limits/id:acme', { requests_per_second: 0.01, burst: 3 })).json<{ override: unknown }>().override;
  assert.deepEqual((await burst(gw, 4)).statuses, [200, 200, 200, 429], 'new numbers, a new bucket');
  assert.equal((await admin(gw, 'DELETE', '/v1/limits/id:acme')).status, 200);

  const audits = gw.logs.filter((l) => l.audit !== undefined);
  assert.deepEqual(audits.map((l) => [l.audit, l.who, l.key, l.before, l.after]), [
    ['override_set', 'admin', 'id:acme', null, first],
    ['override_set', 'admin', 'id:acme', first, second],
    ['override_deleted', 'admin', 'id:acme', second, null],
  ]);
  assert.deepEqual(first, { kind: 'limit', requests_per_second: 0.01, burst: 1, expires_at: null, set_by: 'admin' }, 'no expires_in: never expires');
  const text = gw.logs.map((l) => JSON.stringify(l)).join('\n');
  assert.ok(!text.includes(TOKEN), 'no log line carries the admin token');
  assert.ok(!text.includes('secret-acme'), 'nor the API key');
});

test('DELETE /v1/limits/:key: the client is back on its own limits; a key without an override is a 404', async (t) => {
  const { gw } = await setup(t);
  assert.equal((await admin(gw, 'PUT', '/v1/limits/id:acme', { requests_per_second: 0.01, burst: 1 })).status, 200);
  assert.deepEqual((await burst(gw, 2)).statuses, [200, 429]);
  const removed = await admin(gw, 'DELETE', '/v1/limits/id:acme');
  assert.equal(removed.status, 200);
  assert.deepEqual(removed.json(), { key: 'id:acme', removed: true });
  const after = await burst(gw, 1);
  assert.deepEqual(after, { statuses: [200], limit: '5' }, 'the plan again, with its own state');
  assert.equal((await admin(gw, 'GET', '/v1/limits/id:acme')).json<{ override: unknown }>().override, null);

  for (const key of ['id:acme', 'ip:203.0.113.9']) {
    const missing = await admin(gw, 'DELETE', `/v1/limits/${key}`);
    assert.equal(missing.status, 404, key);
    assert.deepEqual(missing.json(), { error: 'not_found', key });
  }
  assert.equal(gw.logs.filter((l) => l.audit === 'override_deleted').length, 1, 'a 404 writes no audit line');
});
