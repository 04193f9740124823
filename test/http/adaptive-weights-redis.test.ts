import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';
import { waitFor } from '../helpers/wait.js';
import { redisAvailable, redisForFile, startRedis } from '../helpers/redis.js';
import { loadShippedWeights } from '../../src/adaptive/weights.js';

/**
 * Learned weights kept where the limits are (issue 17, "Model"): on Redis,
 * feedback sent to one instance moves the weights every instance scores
 * with (each polls every second), a new instance starts with them, and
 * labels sent to two instances at once both count; on the memory store,
 * adaptive.weights_file keeps them across a restart. REDIS_URL may name an
 * existing server.
 */
const TOKEN = 'weights-admin-token-0123456789';
const SHIPPED = loadShippedWeights().version;
// A script: Accept, but no User-Agent or Accept-Language (the shipped weights score it normal).
const SCRIPT = { accept: 'application/json' };

let up: TestUpstream;
before(async () => {
  up = await startUpstream();
});
after(() => up.close());

const yaml = (store: string, adaptive = '{ mode: shadow }') => `${store}
rate_limit: { requests_per_second: 1000, burst: 1000, key: ["header:x-api-key", ip], unverified_key_envelope: false }
adaptive: ${adaptive}
admin: { port: 0, token: ${TOKEN} }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`;

interface OneClient { requests: number; weights_version: string }
const admin = (gw: TestGateway, method: string, path: string, body?: unknown) => adminSend(gw, TOKEN, method, path, body);
const client = (gw: TestGateway, key: string) => admin(gw, 'GET', `/v1/clients/${encodeURIComponent(key)}`);
const feedback = (gw: TestGateway, key: string) => admin(gw, 'POST', '/v1/feedback', { key, label: 'bad' });

/** Three requests of a script client, and the wait until the gateway has observed them (features are fed once each answer has gone). */
async function seen(gw: TestGateway, key: string): Promise<void> {
  for (let i = 0; i < 3; i++) assert.equal((await send(gw.url, `/api/items/${i}`, { headers: { ...SCRIPT, 'x-api-key': key } })).status, 200);
  await waitFor(`3 requests of ${key} observed`, async () => (await client(gw, key)).json<OneClient>().requests >= 3 || undefined);
}

/** The weights version `gw` scores with, read through a client it has seen. */
async function versionOn(gw: TestGateway, key: string): Promise<string> {
  const res = await client(gw, key);
  assert.equal(res.status, 200, res.text);
  return res.json<OneClient>().weights_version;
}

test('memory store with adaptive.weights_file: what was learned is scored with again after a restart', async (t) => {
  const file = join(mkdtempSync(join(tmpdir(), 'tg-weights-http-')), 'learned.json');
  const config = yaml('store: { type: memory }', `{ mode: shadow, weights_file: "${file}" }`);
  const first = await startGateway(config);
  await seen(first, 'script-1');
  for (let i = 1; i <= 2; i++) {
    const res = await feedback(first, 'script-1');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ weights_version: string }>().weights_version, `${SHIPPED}+${i}`);
  }
  await first.close();
  assert.equal(JSON.parse(readFileSync(file, 'utf8')).version, `${SHIPPED}+2`, 'saved to the file');

  const second = await startGateway(config);
  t.after(() => second.close());
  await seen(second, 'script-1');
  assert.equal(await versionOn(second, 'script-1'), `${SHIPPED}+2`);
  const next = await feedback(second, 'script-1');
  assert.equal(next.json<{ weights_version: string }>().weights_version, `${SHIPPED}+3`, 'and learns on from them');
});

if (!redisAvailable()) {
  test('learned weights on redis', { skip: 'redis-server not on PATH (see the message above)' }, () => {});
} else {
  const redis = redisForFile();
  const onRedis = (url: string, prefix: string) => yaml(`store:\n  type: redis\n  redis: { url: ${url}, key_prefix: "${prefix}", timeout_ms: 500, on_error: open }`);
  // One prefix per test, shared by its instances: tests never see each other's weights.
  async function pair(t: { after(fn: () => Promise<unknown>): void }) {
    const prefix = `tg:test:${randomUUID().slice(0, 8)}:`;
    const a = await startGateway(onRedis(redis.url, prefix));
    const b = await startGateway(onRedis(redis.url, prefix));
    t.after(() => Promise.all([a.close(), b.close()]));
    return { prefix, a, b };
  }

  test('feedback sent to A moves the weights B scores with within two seconds; an instance started afterwards starts with them', async (t) => {
    const { prefix, a, b } = await pair(t);
    await seen(a, 'script-2');
    await seen(b, 'script-2');
    assert.equal(await versionOn(b, 'script-2'), SHIPPED);
    const sentAt = performance.now();
    const res = await feedback(a, 'script-2');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json<{ weights_version: string }>().weights_version, `${SHIPPED}+1`);
    await waitFor(`B scoring with ${SHIPPED}+1`, async () => (await versionOn(b, 'script-2')) === `${SHIPPED}+1`, 2000);
    t.diagnostic(`B took the learned weights after ${Math.round(performance.now() - sentAt)} ms`);

    const c = await startGateway(onRedis(redis.url, prefix));
    t.after(() => c.close());
    await seen(c, 'script-2');
    assert.equal(await versionOn(c, 'script-2'), `${SHIPPED}+1`, 'a restart keeps what was learned');
  });

  test('feedback sent to A and B at once: both count (compare-and-set, the loser retried), and both end on +2', async (t) => {
    const { a, b } = await pair(t);
    await seen(a, 'script-3');
    await seen(b, 'script-3');
    const answers = await Promise.all([feedback(a, 'script-3'), feedback(b, 'script-3')]);
    for (const res of answers) assert.equal(res.status, 200, res.text);
    assert.deepEqual(answers.map((r) => r.json<{ weights_version: string }>().weights_version).sort(), [`${SHIPPED}+1`, `${SHIPPED}+2`]);
    for (const gw of [a, b]) await waitFor(`${gw.adminUrl} on ${SHIPPED}+2`, async () => (await versionOn(gw, 'script-3')) === `${SHIPPED}+2`, 2000);
  });

  test('Redis down: feedback answers 503 store_unavailable and nothing is learned; requests are still scored and served', async (t) => {
    const own = await startRedis();
    let stopped = false;
    // Once only: a second stop() of a killed redis-server waits for an exit that has been.
    t.after(() => (stopped ? undefined : own.stop()));
    const gw = await startGateway(onRedis(own.url, 'tg:test:down:'));
    t.after(() => gw.close());
    await seen(gw, 'script-4');
    await own.stop();
    stopped = true;
    const res = await feedback(gw, 'script-4');
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json().error, 'store_unavailable');
    assert.match(String(res.json().message), /cannot be read or saved/);
    assert.equal((await send(gw.url, '/api/items/9', { headers: { ...SCRIPT, 'x-api-key': 'script-4' } })).status, 200);
    assert.equal(await versionOn(gw, 'script-4'), SHIPPED);
    assert.ok(gw.logs.some((l) => l.msg === 'adaptive: feedback not learned'), 'logged');
  });
}
