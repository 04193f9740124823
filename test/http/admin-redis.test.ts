import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';
import { redisAvailable, redisForFile } from '../helpers/redis.js';

/**
 * Overrides through the admin API on gateways sharing one Redis: set on
 * instance A, they bind instance B within a second (B polls every 500 ms),
 * and a B started afresh on the same Redis and prefix finds them in force.
 * REDIS_URL may name an existing server.
 */
if (!redisAvailable()) {
  test('admin API on redis', { skip: 'redis-server not on PATH (see the message above)' }, () => {});
} else {
  const redis = redisForFile();
  let up: TestUpstream;
  before(async () => {
    up = await startUpstream();
  });
  after(() => up.close());

  const TOKEN = 'ops-token-0123456789abcdef';
  // One prefix per test, shared by its instances: tests never see each other's overrides or buckets.
  const yaml = (prefix: string) => `server: { trust_proxy: true }
admin: { token: "${TOKEN}" }
store:
  type: redis
  redis: { url: ${redis.url}, key_prefix: "${prefix}", timeout_ms: 500, on_error: closed }
rate_limit: { requests_per_second: 1000, burst: 1000 }
routes:
${routesYaml([{ path: '/api', upstream: up.url }, { path: '/slow', upstream: up.url, extra: 'rate_limit: { requests_per_second: 0.01, burst: 5 }' }])}`;
  async function pair(t: { after(fn: () => Promise<unknown>): void }) {
    const prefix = `tg:test:${randomUUID().slice(0, 8)}:`;
    const a = await startGateway(yaml(prefix));
    const b = await startGateway(yaml(prefix));
    t.after(() => Promise.all([a.close(), b.close()]));
    return { prefix, a, b };
  }
  const admin = (gw: TestGateway, method: string, path: string, body?: unknown) => adminSend(gw, TOKEN, method, path, body);
  const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });
  /** ms from `since` until `gw` answers `status` for `ip`, polling every 20 ms; fails past `withinMs`. */
  async function until(gw: TestGateway, ip: string, status: number, since: number, withinMs: number): Promise<number> {
    for (;;) {
      const res = await send(gw.url, '/api/x', from(ip));
      const elapsed = performance.now() - since;
      if (res.status === status) return elapsed;
      assert.ok(elapsed < withinMs, `${gw.url} still answers ${res.status} for ${ip} after ${Math.round(elapsed)} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('a block set through A binds B within one second; its DELETE lifts it on B within one second', async (t) => {
    const { a, b } = await pair(t);
    const ip = '198.51.100.10';
    assert.equal((await send(b.url, '/api/x', from(ip))).status, 200);
    const setAt = performance.now();
    assert.equal((await admin(a, 'PUT', `/v1/limits/ip:${ip}`, { block: true })).status, 200);
    assert.equal((await send(a.url, '/api/x', from(ip))).status, 403, 'at once on A');
    const took = await until(b, ip, 403, setAt, 1000);
    t.diagnostic(`B blocked after ${Math.round(took)} ms`);
    const onB = (await admin(b, 'GET', `/v1/limits/ip:${ip}`)).json<{ override: { kind: string; set_by: string } | null }>();
    assert.deepEqual(onB.override && [onB.override.kind, onB.override.set_by], ['block', 'admin'], 'B\'s admin API sees it too');
    assert.equal(b.accessLines().at(-1)?.decision, 'blocked');

    const deletedAt = performance.now();
    assert.equal((await admin(b, 'DELETE', `/v1/limits/ip:${ip}`)).status, 200, 'removed through B');
    await until(a, ip, 200, deletedAt, 1000);
  });

  test('a limit set through A: both instances share the override\'s one bucket on Redis', async (t) => {
    const { a, b } = await pair(t);
    const ip = '198.51.100.11';
    const setAt = performance.now();
    assert.equal((await admin(a, 'PUT', `/v1/limits/ip:${ip}`, { requests_per_second: 0.01, burst: 3 })).status, 200);
    // B's first request under the override is the first of the bucket's 3.
    for (;;) {
      const res = await send(b.url, '/api/x', from(ip));
      if (res.headers['x-ratelimit-limit'] === '3') break;
      assert.equal(res.status, 200);
      assert.ok(performance.now() - setAt < 1000, 'B takes the override within one second');
    }
    const statuses = [];
    for (const gw of [a, b, a]) statuses.push((await send(gw.url, '/api/x', from(ip))).status);
    assert.deepEqual(statuses, [200, 200, 429], 'one burst of 3 across A and B');
  });

  test('the override survives a restart of B: a new instance on the same Redis and prefix has it, with its expiry', async (t) => {
    const { prefix, a, b } = await pair(t);
    const ip = '198.51.100.12';
    assert.equal((await admin(a, 'PUT', `/v1/limits/ip:${ip}`, { block: true, expires_in: '1h' })).status, 200);
    await until(b, ip, 403, performance.now(), 1000);
    await b.close();
    const startedAt = performance.now();
    const b2 = await startGateway(yaml(prefix));
    t.after(() => b2.close());
    await until(b2, ip, 403, startedAt, 1000);
    for (let i = 0; i < 3; i++) assert.deepEqual((await send(b2.url, '/api/x', from(ip))).json(), { error: 'forbidden' });
    const shown = (await admin(b2, 'GET', `/v1/limits/ip:${ip}`)).json<{ override: { kind: string; expires_at: string } | null }>();
    assert.equal(shown.override?.kind, 'block');
    assert.ok(Date.parse(shown.override.expires_at) > Date.now() + 3_500_000, 'with its expiry, not a fresh one');
    assert.equal((await send(b2.url, '/api/x', from('198.51.100.13'))).status, 200, 'other clients pass');
  });

  // Regression: listen() waited for the limit store but not for the overrides' first read from Redis,
  // so a request in the first milliseconds of a new instance was decided without them (1 start in 7).
  test('a restarted instance enforces a block from its very first request', async (t) => {
    const { prefix, a, b } = await pair(t);
    const ip = '198.51.100.15';
    assert.equal((await admin(a, 'PUT', `/v1/limits/ip:${ip}`, { block: true })).status, 200);
    await b.close();
    const firsts: number[] = [];
    for (let i = 0; i < 10; i++) {
      const fresh = await startGateway(yaml(prefix));
      firsts.push((await send(fresh.url, '/api/x', from(ip))).status);
      await fresh.close();
    }
    assert.deepEqual(firsts, Array(10).fill(403), 'the first request of each new instance');
  });

  test('GET /v1/limits and POST /v1/check read the shared buckets by dry run on Redis', async (t) => {
    const { a, b } = await pair(t);
    const ip = '198.51.100.14';
    for (let i = 0; i < 2; i++) assert.equal((await send(a.url, '/slow/x', from(ip))).status, 200);
    const read = async (gw: TestGateway) =>
      (await admin(gw, 'GET', `/v1/limits/ip:${ip}`)).json<{ policies: { policy: string; limits: { remaining: number }[] }[] }>().policies.find((p) => p.policy === '/slow')?.limits[0]?.remaining;
    assert.equal(await read(b), 3, 'B reads what A spent');
    assert.equal(await read(b), 3, 'reading spends nothing');

    const check = (gw: TestGateway, body: object) => admin(gw, 'POST', '/v1/check', { key: `ip:${ip}`, policy: '/slow', ...body });
    const dry = await check(b, { dry_run: true });
    assert.equal(dry.status, 200, dry.text);
    assert.equal(dry.json<{ remaining: number }>().remaining, 2, 'a dry run: what a real check would leave');
    assert.equal((await check(b, { dry_run: true })).json<{ remaining: number }>().remaining, 2, 'and it left nothing spent');
    assert.equal((await check(a, { cost: 3 })).json<{ remaining: number }>().remaining, 0, 'a real check on A spends the last 3');
    const refused = await check(b, { dry_run: true });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['x-ratelimit-remaining'], '0');
    assert.equal((await send(b.url, '/slow/x', from(ip))).status, 429, 'and the gateway agrees');
  });
}
