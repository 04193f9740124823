import { createHash } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import type { RedisFailureMode } from '../../src/config/types.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redis.js';
import { flood } from '../helpers/flood.js';

/**
 * Redis lost mid-load and brought back, once per `on_error` mode: the
 * documented statuses while it is gone, no request slower than timeout_ms +
 * 100 ms, /ready and the metrics telling the truth, one log line per state
 * change, and shared limiting again within 2 s of Redis returning.
 */
const TIMEOUT_MS = 50;

async function setup(t: { after(fn: () => Promise<unknown>): void }, mode: RedisFailureMode) {
  const redis = await startRedis();
  const up = await startUpstream();
  const gw = await startGateway(`store:
  type: redis
  redis: { url: "${redis.url}", timeout_ms: ${TIMEOUT_MS}, on_error: ${mode} }
rate_limit: { requests_per_second: 5, burst: 5 }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close(), redis.stop()]));
  return { redis, gw };
}

async function metric(gw: TestGateway, name: string): Promise<number> {
  const text = (await send(gw.url, '/metrics')).text;
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name)) sum += Number(line.split(' ').pop());
  return sum;
}

const stateLines = (gw: TestGateway, msg: string) => gw.logs.filter((l) => l.msg === msg).length;

async function waitFor(what: () => Promise<boolean>, withinMs: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < withinMs) {
    if (await what()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 25));
  }
  return Infinity;
}

/** Kills Redis under load, checks the outage, restarts it and checks recovery. */
async function outageAndRecovery(redis: RedisProcess, gw: TestGateway, mode: RedisFailureMode, during: (statuses: Map<number, number>) => Promise<void>) {
  const key = { 'x-api-key': `client-${mode}` };
  const before = await send(gw.url, '/api/x', { headers: key });
  assert.equal(before.status, 200);
  assert.equal(before.headers['x-ratelimit-remaining'], '4', 'decided by Redis');
  assert.equal(await metric(gw, 'throttlegate_store_up'), 1);

  const load = flood([gw.url], '/api/x', key, 1.5, 4);
  await new Promise((r) => setTimeout(r, 200));
  await redis.stop();
  const outage = await load;
  assert.ok(outage.slowestMs < TIMEOUT_MS + 100, `slowest request ${outage.slowestMs.toFixed(0)} ms`);
  assert.equal(outage.statuses.get(0), undefined, 'no connection error, no hang');
  await during(outage.statuses);
  assert.equal(await metric(gw, 'throttlegate_store_up'), 0);
  assert.ok((await metric(gw, 'throttlegate_store_errors_total')) > 0, 'store errors counted');

  const ready = await send(gw.url, '/ready');
  if (mode === 'closed') {
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json(), { status: 'not_ready', reason: 'store_unavailable' });
  } else {
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json(), { status: 'ready', store: 'degraded' });
  }

  await redis.start();
  const recovered = await waitFor(async () => (await send(gw.url, '/ready')).json().store === 'ok', 2000);
  assert.ok(recovered <= 2000, 'shared limiting again within 2 s of Redis returning');
  // Redis came back empty: a fresh shared bucket answers, whatever the local fallback had used.
  const after = await send(gw.url, '/api/x', { headers: key });
  assert.equal(after.status, 200);
  assert.equal(after.headers['x-ratelimit-remaining'], '4', 'decided by Redis again');
  assert.equal(await metric(gw, 'throttlegate_store_up'), 1);
  assert.equal(stateLines(gw, 'store: redis unavailable'), 1, 'one log line for the outage, not one per request');
  assert.equal(stateLines(gw, 'store: redis connected, limits are shared'), 2, 'start and recovery');
}

if (!redisAvailable()) {
  test('redis faults', { skip: 'redis-server not on PATH (see the message above)' }, () => {});
} else {
  test('Redis lost mid-load, on_error: local: each instance keeps limiting on its own', async (t) => {
    const { redis, gw } = await setup(t, 'local');
    await outageAndRecovery(redis, gw, 'local', async (statuses) => {
      assert.deepEqual([...statuses.keys()].sort(), [200, 429]);
      // A fresh local bucket: burst 5 + 5/s over the ~1.3 s outage, plus what passed before the kill.
      assert.ok((statuses.get(200) ?? 0) <= 5 + 5 + 5 * 1.5 + 1, `allowed ${statuses.get(200)}`);
    });
  });

  test('Redis lost mid-load, on_error: open: requests pass, without limit headers', async (t) => {
    const { redis, gw } = await setup(t, 'open');
    await outageAndRecovery(redis, gw, 'open', async (statuses) => {
      assert.ok((statuses.get(200) ?? 0) > 20, 'flood passes while Redis is gone');
      const r = await send(gw.url, '/api/x', { headers: { 'x-api-key': 'during' } });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-ratelimit-limit'], undefined, 'no numbers to tell');
    });
  });

  test('Redis lost mid-load, on_error: closed: 503 limiter_unavailable', async (t) => {
    const { redis, gw } = await setup(t, 'closed');
    await outageAndRecovery(redis, gw, 'closed', async (statuses) => {
      assert.ok((statuses.get(503) ?? 0) > 20, 'refused while Redis is gone');
      const r = await send(gw.url, '/api/x', { headers: { 'x-api-key': 'during' } });
      assert.equal(r.status, 503);
      assert.deepEqual(r.json(), { error: 'limiter_unavailable' });
    });
  });

  test('Redis that stops answering (partition): decisions wait at most timeout_ms, then on_error applies', async (t) => {
    const { redis, gw } = await setup(t, 'local');
    const key = { 'x-api-key': 'partitioned' };
    assert.equal((await send(gw.url, '/api/x', { headers: key })).headers['x-ratelimit-remaining'], '4');
    redis.freeze();
    t.after(() => redis.thaw());
    const during = await flood([gw.url], '/api/x', key, 1, 4);
    assert.ok(during.slowestMs < TIMEOUT_MS + 100, `slowest request ${during.slowestMs.toFixed(0)} ms`);
    assert.deepEqual([...during.statuses.keys()].sort(), [200, 429], 'limited locally');
    assert.ok((await metric(gw, 'throttlegate_store_errors_total{reason="timeout"}')) >= 1, 'timeouts counted');
    assert.equal(await metric(gw, 'throttlegate_store_up'), 0);
    assert.equal((await send(gw.url, '/ready')).json().store, 'degraded');
    assert.equal(stateLines(gw, 'store: redis is not answering in time'), 1, 'one line for the episode');
    redis.thaw();
    // Commands that timed out were still queued in Redis and ran on thaw (they only cost tokens,
    // never admit more). Probe with new clients until the store has an answer again.
    let probe = 0;
    const back = await waitFor(async () => {
      await send(gw.url, '/api/x', { headers: { 'x-api-key': `probe-${probe++}` } });
      return (await send(gw.url, '/ready')).json().store === 'ok';
    }, 2000);
    assert.ok(back <= 2000, 'Redis decides again once it answers');
    await send(gw.url, '/api/x', { headers: { 'x-api-key': 'after-thaw' } });
    const admin = new Redis(redis.url);
    t.after(() => admin.quit());
    const digest = createHash('sha256').update('after-thaw').digest('hex').slice(0, 32);
    assert.equal(await admin.exists(`tg:{default:h:x-api-key:${digest}}`), 1, 'the bucket lives in Redis, named by a digest of the key, never the key');
    assert.equal(await metric(gw, 'throttlegate_store_up'), 1);
    assert.equal(stateLines(gw, 'store: redis answering again, limits are shared'), 1);
  });
}
