import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

const TOKEN = 'ops-token-0123456789abcdef';

interface LimitState { id: string; algorithm: string; limit: number; remaining: number; reset: number }
interface LimitsBody { key: string; key_id: string | null; plan: string | null; override: unknown; policies: { policy: string; routes: string[]; limits: LimitState[] }[] }

// Slow refill (0.01/s = 100 s per token): nothing comes back while the test runs.
async function setup(t: { after(fn: () => Promise<unknown>): void }) {
  const up = await startUpstream();
  const gw = await startGateway(`admin: { token: "${TOKEN}" }
api_keys:
  - { id: acme, hash: "${hashApiKey('secret-acme')}", plan: free }
plans:
  free: { limits: [ { requests_per_second: 0.01, burst: 5 }, { algorithm: fixed_window, limit: 100, window: 1h } ] }
rate_limit: { requests_per_second: 0.01, burst: 4 }
routes:
${routesYaml([{ path: '/api', upstream: up.url }, { path: '/search', upstream: up.url, extra: 'rate_limit: { requests_per_second: 0.01, burst: 3 }' }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const limits = async (key: string) => {
    const res = await send(gw.adminUrl!, `/v1/limits/${encodeURIComponent(key)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(res.status, 200, res.text);
    return res.json<LimitsBody>();
  };
  return { up, gw, limits };
}

const byPolicy = (body: LimitsBody) => Object.fromEntries(body.policies.map((p) => [p.policy, p.limits.map((l) => [l.id, l.remaining, l.reset])]));

test('GET /v1/limits/:key: a new client has every unit and reset 0; real requests through the gateway lower it', async (t) => {
  const { gw, limits } = await setup(t);
  const fresh = await limits('ip:127.0.0.1');
  assert.equal(fresh.key, 'ip:127.0.0.1');
  assert.equal(fresh.override, null);
  assert.deepEqual(fresh.policies.map((p) => [p.policy, p.routes]), [['default', ['/api']], ['/search', ['/search']]]);
  assert.deepEqual(byPolicy(fresh), { default: [['default', 4, 0]], '/search': [['/search', 3, 0]] });

  for (let i = 0; i < 2; i++) assert.equal((await send(gw.url, '/api/x')).status, 200);
  assert.equal((await send(gw.url, '/search/x')).status, 200);
  const used = await limits('ip:127.0.0.1');
  assert.deepEqual(byPolicy(used), { default: [['default', 2, 200]], '/search': [['/search', 2, 100]] }, 'reset: 2 and 1 tokens at 0.01/s');

  assert.deepEqual(byPolicy(await limits('ip:127.0.0.1')), byPolicy(used), 'reading the limits consumes nothing');
  const next = await send(gw.url, '/api/x');
  assert.equal(next.headers['x-ratelimit-remaining'], '1', 'the gateway agrees: 2 left before this request');
  assert.deepEqual(byPolicy(await limits('ip:198.51.100.1')), byPolicy(fresh), 'another client is untouched');
});

test('GET /v1/limits/id:<key id>: the plan limits and their live numbers, the same on every route', async (t) => {
  const { gw, limits } = await setup(t);
  for (let i = 0; i < 3; i++) assert.equal((await send(gw.url, i < 2 ? '/api/x' : '/search/x', { headers: { 'x-api-key': 'secret-acme' } })).status, 200);
  const body = await limits('id:acme');
  assert.equal(body.key_id, 'acme');
  assert.equal(body.plan, 'free');
  for (const p of body.policies) {
    assert.deepEqual(p.limits.map((l) => [l.id, l.algorithm, l.limit, l.remaining]), [
      ['plan:free#1', 'token_bucket', 5, 2],
      ['plan:free#2', 'fixed_window', 100, 97],
    ], p.policy);
  }
  // Was a 200 with a new client's numbers: a key id not in api_keys names no client the gateway can have (issue 14).
  const unknown = await send(gw.adminUrl!, '/v1/limits/id:nobody', { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(unknown.status, 400);
  assert.match(unknown.json<{ message: string }>().message, /no api_keys entry has id "nobody"; accepted forms: /);
});

test('GET /v1/limits/:key: a key of 512 characters is served (the router once answered 414 past 100); 513 is a 400 naming the key', async (t) => {
  const { gw } = await setup(t);
  const long = `jwt:https://example.com/claims/tenant:${'é'.repeat(474)}`;
  assert.equal(long.length, 512);
  // Reaches the handler (its answer names the accepted client forms), percent-encoded on the wire, 512 decoded.
  const served = await send(gw.adminUrl!, `/v1/limits/${encodeURIComponent(long)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(served.status, 400, served.text);
  assert.match(served.json<{ message: string }>().message, /^jwt: takes the 12 hex digits of the log label; accepted forms: /);
  const res = await send(gw.adminUrl!, `/v1/limits/${'k'.repeat(513)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 400);
  const body = res.json<{ error: string; problems: { path: string }[] }>();
  assert.equal(body.error, 'bad_request');
  assert.deepEqual(body.problems.map((p) => p.path), ['key']);
});
