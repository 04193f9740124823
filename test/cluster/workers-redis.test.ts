import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, writeConfig, type Served } from '../helpers/cli.js';
import { flood } from '../helpers/flood.js';
import { send } from '../helpers/http.js';
import { freePort, redisAvailable, startRedis, type RedisProcess } from '../helpers/redis.js';
import { everyWorkerShows, fresh, label, linesFor, stop, workersOf, type Line } from '../helpers/workers.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `server.workers: 2` on the Redis store, end to end: each worker talks to a
 * real redis-server itself, so one client flooding both workers is still
 * admitted one limit, and a block set through the primary's admin API
 * reaches every worker within 1 s (the overrides' poll).
 */

const TOKEN = 'workers-e2e-admin-token-0123456789';
const RATE = 0.01;
const BURST = 50;
const FLOOD_S = 3;
const BOUNDED = { timeout: 40_000 };

function round(n: number, url: string, apiKey: string): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => fresh(url, '/free/x', apiKey)));
}

if (!redisAvailable()) {
  test('workers on the Redis store', { skip: 'redis-server not on PATH (see the message above)' }, () => {});
} else {
  let redis: RedisProcess;
  let origin: Server;
  let originUrl = '';
  let forwarded = 0;
  let gw: Served;
  let admin = '';
  before(async () => {
    redis = await startRedis();
    origin = createServer((_req, res) => (forwarded++, res.end('ok')));
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
    const adminPort = await freePort();
    admin = `http://127.0.0.1:${adminPort}`;
    // on_error: closed, so a Redis that failed to answer shows as 503s instead of local admissions.
    gw = await serve(writeConfig(`server: { workers: 2 }
admin: { host: 127.0.0.1, port: ${adminPort}, token: ${TOKEN} }
store:
  type: redis
  redis: { url: "${redis.url}", key_prefix: "tg:w:${randomUUID().slice(0, 8)}:", timeout_ms: 500, on_error: closed }
rate_limit: { requests_per_second: ${RATE}, burst: ${BURST}, unverified_key_envelope: false }
routes:
  - path: /api
    upstream: ${originUrl}
  - path: /free
    upstream: ${originUrl}
    rate_limit: { requests_per_second: 1000, burst: 1000, unverified_key_envelope: false }
`));
  });
  after(async () => {
    if (gw !== undefined) await stop(gw);
    origin?.closeAllConnections();
    await new Promise<void>((resolve) => (origin ? origin.close(() => resolve()) : resolve()));
    await redis?.stop();
  });

  test('2 workers on Redis: one client flooding both workers is admitted burst + rate x T', BOUNDED, async (t: TestContext) => {
    const result = await flood([gw.url], '/api/x', { 'x-api-key': 'flooder' }, FLOOD_S, 8);
    const total = [...result.statuses.values()].reduce((a, b) => a + b, 0);
    const expected = BURST + RATE * result.seconds;
    t.diagnostic(`redis, 2 workers: ${result.allowed} allowed of ${total} in ${result.seconds.toFixed(2)} s (limit ${expected.toFixed(2)}), statuses ${JSON.stringify([...result.statuses])}`);
    assert.deepEqual([...result.statuses.keys()].sort(), [200, 429], 'only 200 and 429');
    assert.ok(Math.abs(result.allowed - expected) <= 1, `${result.allowed} allowed, limit ${expected.toFixed(2)} for ${result.seconds.toFixed(2)} s`);
    assert.equal(forwarded, result.allowed, 'the origin saw exactly the admitted requests (this test runs first)');
    const lines = await linesFor(gw, total, (l) => l.client === label('flooder'));
    assert.equal(lines.length, total, 'one access line per request');
    assert.deepEqual(workersOf(lines), [1, 2], 'both workers served some of the flood');
    assert.deepEqual(workersOf(lines.filter((l) => l.status === 200)), [1, 2], 'both workers admitted some');
  });

  test('2 workers on Redis: a block set through the admin API binds on every worker within 1 s; DELETE lifts it', BOUNDED, async (t: TestContext) => {
    const call = (method: string, body?: unknown) =>
      send(admin, '/v1/limits/mallory', {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    const mallory = (status: number, since: number) => (l: Line) => l.client === label('mallory') && l.status === status && (l.time as number) >= since;
    assert.deepEqual(await round(4, gw.url, 'mallory'), [200, 200, 200, 200]);

    // From the moment the API answers, rounds of fresh connections until one is all 403: its start is when the block bound everywhere.
    const until = async (status: number): Promise<number> => {
      const answered = performance.now();
      for (;;) {
        const started = performance.now();
        const statuses = await round(6, gw.url, 'mallory');
        if (statuses.every((s) => s === status)) return started - answered;
        if (started - answered > 3_000) assert.fail(`still not ${status} everywhere 3 s after the API answered: ${JSON.stringify(statuses)}`);
      }
    };
    const blockedSince = Date.now();
    const put = await call('PUT', { block: true });
    assert.equal(put.status, 200, put.text);
    const blockedAfter = await until(403);
    assert.ok(blockedAfter <= 1_000, `blocked everywhere ${blockedAfter.toFixed(0)} ms after the API answered`);
    assert.deepEqual(await round(8, gw.url, 'mallory'), Array(8).fill(403), 'and it stays');
    await everyWorkerShows(gw, [1, 2], mallory(403, blockedSince), () => round(6, gw.url, 'mallory'), 403, '403s from every worker');
    assert.deepEqual(await round(4, gw.url, 'bystander'), [200, 200, 200, 200], 'only the blocked client');

    const del = await call('DELETE');
    assert.equal(del.status, 200, del.text);
    const liftedAfter = await until(200);
    t.diagnostic(`blocked on every worker ${blockedAfter.toFixed(0)} ms, lifted ${liftedAfter.toFixed(0)} ms after the API answered`);
    assert.ok(liftedAfter <= 1_000, `lifted everywhere ${liftedAfter.toFixed(0)} ms after the API answered`);
    const since = Date.now();
    assert.deepEqual(await round(8, gw.url, 'mallory'), Array(8).fill(200), 'and it stays lifted');
    await everyWorkerShows(gw, [1, 2], mallory(200, since), () => round(6, gw.url, 'mallory'), 200, 'lifted on every worker');
  });

  test('4 workers on Redis: a flood is admitted burst + rate x T, and a concurrency limit of 3 never has a 4th request at the origin', BOUNDED, async (t: TestContext) => {
    // Its own origin: /slow is held until released, so what is in flight there is what the gateway admitted.
    let count = 0;
    let inFlight = 0;
    let maxInFlight = 0;
    let held: ServerResponse[] = [];
    const holding = createServer((req, res) => {
      count++;
      if (!req.url?.startsWith('/slow')) return void res.end('ok');
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      held.push(res);
    });
    await new Promise<void>((resolve) => holding.listen(0, '127.0.0.1', resolve));
    const releaseAll = () => {
      for (const res of held) {
        inFlight--;
        res.end('ok');
      }
      held = [];
    };
    t.after(() => {
      releaseAll();
      holding.closeAllConnections();
      holding.close();
    });
    const url = `http://127.0.0.1:${(holding.address() as AddressInfo).port}`;
    const gw4 = await serve(writeConfig(`server: { workers: 4 }
store:
  type: redis
  redis: { url: "${redis.url}", key_prefix: "tg:w4:${randomUUID().slice(0, 8)}:", timeout_ms: 500, on_error: closed }
rate_limit: { requests_per_second: ${RATE}, burst: ${BURST}, unverified_key_envelope: false }
routes:
  - path: /api
    upstream: ${url}
  - path: /slow
    upstream: ${url}
    rate_limit: { algorithm: concurrency, limit: 3, unverified_key_envelope: false }
`));
    t.after(() => stop(gw4));

    const result = await flood([gw4.url], '/api/x', { 'x-api-key': 'flooder' }, FLOOD_S, 8);
    const total = [...result.statuses.values()].reduce((a, b) => a + b, 0);
    const expected = BURST + RATE * result.seconds;
    t.diagnostic(`redis, 4 workers: ${result.allowed} allowed of ${total} in ${result.seconds.toFixed(2)} s (limit ${expected.toFixed(2)})`);
    assert.deepEqual([...result.statuses.keys()].sort(), [200, 429], 'only 200 and 429');
    assert.ok(Math.abs(result.allowed - expected) <= 1, `${result.allowed} allowed, limit ${expected.toFixed(2)} for ${result.seconds.toFixed(2)} s`);
    assert.equal(count, result.allowed, 'the origin saw exactly the admitted requests');
    const lines = await linesFor(gw4, total, (l) => l.client === label('flooder'));
    assert.deepEqual(workersOf(lines), [1, 2, 3, 4], 'every worker served some of the flood');
    assert.ok(workersOf(lines.filter((l) => l.status === 200)).length > 1, 'admissions came from more than one worker');

    const answered: number[] = [];
    const first = Array.from({ length: 16 }, () => fresh(gw4.url, '/slow/x', 'busy').then((status) => (answered.push(status), status)));
    await waitFor('all 16 requests admitted or refused', () => answered.length + inFlight === 16, 10_000);
    assert.equal(maxInFlight, 3, 'at most 3 in flight at the origin, and 3 admitted');
    assert.deepEqual(answered, Array(13).fill(429));
    assert.ok(workersOf(await linesFor(gw4, 13, (l) => l.status === 429 && l.path === '/slow/x')).length > 1, 'refused by more than one worker: one limit for all');
    releaseAll();
    assert.equal((await Promise.all(first)).filter((status) => status === 200).length, 3);
    // The slots came back in Redis when each response ended: three more fit at once.
    const second = Promise.all(Array.from({ length: 3 }, () => fresh(gw4.url, '/slow/y', 'busy')));
    await waitFor('3 more at the origin', () => inFlight === 3, 10_000);
    releaseAll();
    assert.deepEqual(await second, [200, 200, 200]);
    assert.equal(maxInFlight, 3);
  });
}
