import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';

const TOKEN = 'ops-token-0123456789abcdef';

interface CheckBody { allowed: boolean; remaining: number; limit: number; reset: number; retry_after: number; policy: string }

// 0.01 tokens/s: nothing refills while a test runs, so every number is exact.
async function setup(t: { after(fn: () => Promise<unknown>): void }) {
  const up = await startUpstream();
  const gw = await startGateway(`admin: { token: "${TOKEN}" }
plans:
  free: { limits: [ { requests_per_second: 0.01, burst: 2 } ] }
  pro: { limits: [ { requests_per_second: 0.01, burst: 10 }, { algorithm: fixed_window, limit: 3, window: 1h } ] }
rate_limit: { requests_per_second: 0.01, burst: 3 }
routes:
${routesYaml([{ path: '/api', upstream: up.url }, { path: '/search', upstream: up.url, extra: 'rate_limit: { requests_per_second: 0.01, burst: 1 }' }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

const admin = (gw: TestGateway, method: string, path: string, body?: unknown) => adminSend(gw, TOKEN, method, path, body);
const check = (gw: TestGateway, body: Record<string, unknown>) => admin(gw, 'POST', '/v1/check', body);

test('POST /v1/check consumes: remaining goes down, then 429 with the limit headers', async (t) => {
  const { up, gw } = await setup(t);
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await check(gw, { key: 'tenant-1' }));
  assert.deepEqual(answers.map((a) => a.status), [200, 200, 200]);
  assert.deepEqual(answers.map((a) => a.json<CheckBody>().remaining), [2, 1, 0]);
  assert.deepEqual(answers[0]!.json(), { allowed: true, remaining: 2, limit: 3, reset: 100, retry_after: 0, policy: 'default' });
  assert.equal(answers[0]!.headers['x-ratelimit-remaining'], '2');

  const refused = await check(gw, { key: 'tenant-1' });
  assert.equal(refused.status, 429);
  assert.deepEqual(refused.json(), { allowed: false, remaining: 0, limit: 3, reset: 300, retry_after: 100, policy: 'default' });
  assert.equal(refused.headers['x-ratelimit-limit'], '3');
  assert.equal(refused.headers['x-ratelimit-remaining'], '0');
  assert.equal(refused.headers['x-ratelimit-reset'], '300');
  assert.equal(refused.headers['retry-after'], '100');
  assert.equal(refused.headers.ratelimit, '"default";r=0;t=300');
  assert.equal(refused.headers['ratelimit-policy'], '"default";q=3;w=300');
  assert.equal((await check(gw, { key: 'tenant-2' })).status, 200, 'another key has its own budget');
  assert.equal(up.seen.length, 0, 'a check reaches no upstream');
});

test('dry_run: true decides without consuming; a real check then answers what the dry run said', async (t) => {
  const { gw } = await setup(t);
  assert.equal((await check(gw, { key: 'tenant-1' })).status, 200);
  const dry = [];
  for (let i = 0; i < 5; i++) dry.push((await check(gw, { key: 'tenant-1', dry_run: true })).json<CheckBody>());
  assert.ok(dry.every((d) => d.allowed && d.remaining === 1), JSON.stringify(dry));
  assert.deepEqual((await check(gw, { key: 'tenant-1' })).json(), dry[0], 'the real check matches its dry run');
  assert.equal((await check(gw, { key: 'tenant-1' })).status, 200);
  const peek = await check(gw, { key: 'tenant-1', dry_run: true });
  assert.equal(peek.status, 429, 'a dry run refuses what a real check would');
  assert.equal(peek.json<CheckBody>().retry_after, 100);
  assert.equal(peek.headers['retry-after'], '100');
});

test('cost takes that many units; a key shares its budget with GET /v1/limits and with gateway traffic', async (t) => {
  const { gw } = await setup(t);
  assert.equal((await check(gw, { key: 'tenant-1', cost: 2 })).json<CheckBody>().remaining, 1);
  assert.equal((await check(gw, { key: 'tenant-1', cost: 2 })).status, 429, 'one left, two asked: refused, nothing taken');
  assert.equal((await check(gw, { key: 'tenant-1' })).json<CheckBody>().remaining, 0);
  const shown = (await admin(gw, 'GET', '/v1/limits/tenant-1')).json<{ policies: { policy: string; limits: { remaining: number }[] }[] }>();
  assert.equal(shown.policies.find((p) => p.policy === 'default')?.limits[0]?.remaining, 0);

  for (let i = 0; i < 2; i++) assert.equal((await send(gw.url, '/api/x')).status, 200);
  assert.equal((await check(gw, { key: 'ip:127.0.0.1' })).json<CheckBody>().remaining, 0, 'the gateway took 2 of 3 from ip:127.0.0.1');
  assert.equal((await send(gw.url, '/api/x')).status, 429, 'and the check took the last one');
});

test('policy: a route path with its own policy, or plan:<name>; several limits report the closest to refusing', async (t) => {
  const { gw } = await setup(t);
  const route = await check(gw, { key: 'tenant-1', policy: '/search' });
  assert.deepEqual(route.json(), { allowed: true, remaining: 0, limit: 1, reset: 100, retry_after: 0, policy: '/search' });
  assert.equal((await check(gw, { key: 'tenant-1', policy: '/search' })).status, 429);
  assert.equal((await check(gw, { key: 'tenant-1' })).json<CheckBody>().remaining, 2, 'the default policy has its own budget');

  const free = [];
  for (let i = 0; i < 3; i++) free.push(await check(gw, { key: 'tenant-1', policy: 'plan:free' }));
  assert.deepEqual(free.map((r) => [r.status, r.json<CheckBody>().remaining, r.json<CheckBody>().limit]), [[200, 1, 2], [200, 0, 2], [429, 0, 2]]);
  assert.equal(free[0]!.json<CheckBody>().policy, 'check:plan:free');

  const pro = [];
  for (let i = 0; i < 4; i++) pro.push((await check(gw, { key: 'tenant-1', policy: 'plan:pro' })).json<CheckBody>());
  assert.deepEqual(pro.map((b) => [b.allowed, b.remaining, b.limit]), [[true, 2, 3], [true, 1, 3], [true, 0, 3], [false, 0, 3]], 'the window (3/h) is the binding limit');
});

test('unknown policy: 404 unknown_policy naming the known ones; blocked key: 403; bad body: 400 with problems', async (t) => {
  const { gw } = await setup(t);
  for (const policy of ['nope', 'plan:nope', '/api']) {
    const res = await check(gw, { key: 'tenant-1', policy });
    assert.equal(res.status, 404, policy);
    assert.deepEqual(res.json(), { error: 'unknown_policy', policy, known: ['default', '/search', 'plan:free', 'plan:pro'] });
  }
  assert.equal((await admin(gw, 'PUT', '/v1/limits/tenant-9', { block: true })).status, 200);
  const blocked = await check(gw, { key: 'tenant-9' });
  assert.equal(blocked.status, 403);
  assert.deepEqual(blocked.json(), { error: 'forbidden' });
  assert.equal((await admin(gw, 'PUT', '/v1/limits/tenant-8', { requests_per_second: 0.01, burst: 1 })).status, 200);
  assert.deepEqual((await check(gw, { key: 'tenant-8' })).json<CheckBody>().limit, 1, 'an override binds checks too');

  const bad: [unknown, string[]][] = [
    [{}, ['key']],
    [{ key: '' }, ['key']],
    [{ key: 'k', cost: 'two' }, ['cost']],
    [{ key: 'k', cost: 0 }, ['cost']],
    [{ key: 'k', dry_run: 'yes' }, ['dry_run']],
    [{ key: 'k', colour: 'red' }, ['colour']],
    [{ key: 5, policy: '' }, ['key', 'policy']],
  ];
  for (const [body, fields] of bad) {
    const res = await admin(gw, 'POST', '/v1/check', body);
    assert.equal(res.status, 400, JSON.stringify(body));
    const answer = res.json<{ error: string; problems: { path: string }[] }>();
    assert.equal(answer.error, 'bad_request');
    assert.deepEqual(answer.problems.map((p) => p.path).sort(), fields, `${JSON.stringify(body)}: ${res.text}`);
  }
});
