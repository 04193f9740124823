import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';
import { redisAvailable, redisForFile } from '../helpers/redis.js';

/**
 * Issue 14 item 2 on the Redis store: an override set through instance A by
 * the log label (or any other form) of a client keyed by an API key not in
 * api_keys binds that client on instance B (B polls every 500 ms), and B's
 * admin API reads her live state from the raw key or its sha256: form.
 */
if (!redisAvailable()) {
  test('admin client forms on redis', { skip: 'redis-server not on PATH' }, () => {});
} else {
  const redis = redisForFile();
  let up: TestUpstream;
  before(async () => {
    up = await startUpstream();
  });
  after(() => up.close());

  const TOKEN = 'ops-token-0123456789abcdef';
  const ALICE = 'alice-secret-7f3a9c';
  const sha = (v: string) => createHash('sha256').update(v).digest('hex');
  const LABEL = `key:${sha(ALICE).slice(0, 12)}`;
  const yaml = (prefix: string) => `admin: { token: "${TOKEN}" }
store:
  type: redis
  redis: { url: ${redis.url}, key_prefix: "${prefix}", timeout_ms: 500, on_error: closed }
rate_limit: { requests_per_second: 0.01, burst: 50 }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`;
  const admin = (gw: TestGateway, method: string, form: string, body?: unknown) => adminSend(gw, TOKEN, method, `/v1/limits/${encodeURIComponent(form)}`, body);
  const asAlice = (gw: TestGateway) => send(gw.url, '/api/x', { headers: { 'x-api-key': ALICE } });

  /** ms from `since` until `gw` answers `status` to alice, polling every 20 ms; fails past `withinMs`. */
  async function until(gw: TestGateway, status: number, since: number, withinMs: number): Promise<number> {
    for (;;) {
      const res = await asAlice(gw);
      const elapsed = performance.now() - since;
      if (res.status === status) return elapsed;
      assert.ok(elapsed < withinMs, `still ${res.status} after ${Math.round(elapsed)} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  test('a block set by label through A binds alice on B; B reads her state by raw key and sha256:; DELETE by raw key on B lifts it on A', async (t) => {
    const prefix = `tg:test:${randomUUID().slice(0, 8)}:`;
    const a = await startGateway(yaml(prefix));
    const b = await startGateway(yaml(prefix));
    t.after(() => Promise.all([a.close(), b.close()]));

    assert.equal((await asAlice(b)).status, 200);
    for (const form of [ALICE, `sha256:${sha(ALICE)}`]) {
      const onA = (await admin(a, 'GET', form)).json<{ key: string; seen: boolean; policies: { limits: { remaining: number }[] }[] }>();
      assert.deepEqual([onA.key, onA.seen, onA.policies[0]?.limits[0]?.remaining], [LABEL, true, 49], `A reads B's client by ${form.slice(0, 7)}`);
    }

    const setAt = performance.now();
    assert.equal((await admin(a, 'PUT', LABEL, { block: true })).status, 200);
    assert.equal((await asAlice(a)).status, 403, 'at once on A');
    // B re-reads every 500 ms: a generous bound, as this machine may be loaded.
    t.diagnostic(`B blocked after ${Math.round(await until(b, 403, setAt, 3000))} ms`);

    const deletedAt = performance.now();
    assert.equal((await admin(b, 'DELETE', ALICE)).status, 200);
    t.diagnostic(`A unblocked after ${Math.round(await until(a, 200, deletedAt, 3000))} ms`);
    assert.equal([...a.logs, ...b.logs].some((l) => JSON.stringify(l).includes(ALICE)), false, 'no log line holds the raw key');
  });
}
