import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setImmediate as tick } from 'node:timers/promises';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';

// 4 tokens a second with a burst of 1: after the first request, each next one
// passes 250 ms after the one before it. Timings are measured, never slept:
// lower bounds are tight (the bucket cannot be early), upper bounds generous
// (a noisy box can be late).
async function setup(t: { after(fn: () => Promise<unknown>): void }, onLimit: string, rate = 4) {
  const up = await startUpstream();
  const gw = await startGateway(`rate_limit: { requests_per_second: ${rate}, burst: 1, on_limit: ${onLimit} }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  // The gateway has run a request's limit step by the tick after its listener saw it.
  let arrived = 0;
  gw.gateway.server.on('request', () => arrived++);
  const arrivals = (n: number) => waitFor(`${n} requests at the gateway`, () => arrived >= n).then(() => tick());
  return { up, gw, arrivals };
}

const key = { 'x-api-key': 'q' };
/** Sends, resolving to the response and the ms from `since` (default: now) to its end. */
async function timed(gw: TestGateway, path: string, since = performance.now()): Promise<{ res: RawResponse; ms: number }> {
  const res = await send(gw.url, path, { headers: key });
  return { res, ms: performance.now() - since };
}

test('refused requests within delay_up_to are held in order and all answered 200, 250 ms apart', async (t) => {
  const { up, gw } = await setup(t, '{ delay_up_to: 2s }');
  const results = (await Promise.all([1, 2, 3].map((i) => timed(gw, `/api/${i}`)))).sort((a, b) => a.ms - b.ms);
  assert.deepEqual(results.map((r) => r.res.status), [200, 200, 200]);
  const [first, second, third] = results.map((r) => r.ms) as [number, number, number];
  assert.ok(first < 200, `the first passes at once: ${first} ms`);
  assert.ok(second >= 200 && second < 1000, `the second waits for one token (250 ms): ${second} ms`);
  assert.ok(third >= 450 && third < 1500, `the third waits for two (500 ms): ${third} ms`);
  assert.equal(up.seen.length, 3);

  const lines = gw.accessLines().sort((a, b) => Number(a.delayed_ms ?? -1) - Number(b.delayed_ms ?? -1));
  assert.deepEqual(lines.map((l) => l.decision), ['allowed', 'delayed', 'delayed']);
  assert.equal(lines[0]!.delayed_ms, undefined, 'a request that was not held has no delayed_ms');
  assert.ok(Number(lines[1]!.delayed_ms) >= 200, `delayed_ms ${lines[1]!.delayed_ms}`);
  assert.ok(Number(lines[2]!.delayed_ms) >= 450, `delayed_ms ${lines[2]!.delayed_ms}`);
  assert.equal((await scrape(gw.url)).get('throttlegate_delayed_total{route="/api"}'), 2);
});

test('a wait beyond delay_up_to is refused at once, not after waiting', async (t) => {
  // 0.5/s: the second request would wait 2 s, past the 1 s allowed.
  const { up, gw } = await setup(t, '{ delay_up_to: 1s }', 0.5);
  assert.equal((await send(gw.url, '/api/1', { headers: key })).status, 200);
  const { res, ms } = await timed(gw, '/api/2');
  assert.equal(res.status, 429);
  assert.deepEqual(res.json(), { error: 'rate_limited', retry_after: 2 });
  assert.ok(ms < 500, `refused in ${ms} ms, not held until the 1 s deadline`);
  assert.equal(up.seen.length, 1);
  assert.equal(gw.accessLines()[1]!.decision, 'limited');
  assert.equal((await scrape(gw.url)).get('throttlegate_delayed_total{route="/api"}'), undefined);
});

test('a request whose turn behind the queue comes after delay_up_to is refused at once', async (t) => {
  // 600 ms allows the 250 and 500 ms slots; a fourth request's slot (750 ms) is past it.
  const { gw, arrivals } = await setup(t, '{ delay_up_to: 600ms }');
  const t0 = performance.now();
  assert.equal((await send(gw.url, '/api/1', { headers: key })).status, 200);
  const held = [timed(gw, '/api/2', t0), timed(gw, '/api/3', t0)];
  await arrivals(3);
  const fourth = await timed(gw, '/api/4');
  assert.equal(fourth.res.status, 429);
  assert.ok(fourth.ms < 200, `refused in ${fourth.ms} ms, not after waiting its turn`);
  assert.deepEqual((await Promise.all(held)).map((r) => r.res.status), [200, 200]);
});

test('a full queue (max_queue: 2) refuses the next request at once', async (t) => {
  const { up, gw, arrivals } = await setup(t, '{ delay_up_to: 2s, max_queue: 2 }');
  assert.equal((await send(gw.url, '/api/1', { headers: key })).status, 200);
  const held = [timed(gw, '/api/2'), timed(gw, '/api/3')];
  await arrivals(3);
  const extra = await timed(gw, '/api/4');
  assert.equal(extra.res.status, 429, 'two are held already');
  assert.ok(extra.ms < 200, `refused in ${extra.ms} ms`);
  const results = await Promise.all(held);
  assert.deepEqual(results.map((r) => r.res.status), [200, 200], 'the held ones still pass');
  assert.deepEqual(up.seen.map((s) => s.url).sort(), ['/api/1', '/api/2', '/api/3']);
});

test('a held client that disconnects leaves the queue: the next one takes its turn', async (t) => {
  const { up, gw, arrivals } = await setup(t, '{ delay_up_to: 2s }');
  const t0 = performance.now();
  assert.equal((await send(gw.url, '/api/1', { headers: key })).status, 200);
  const aborted = request({ host: '127.0.0.1', port: gw.port, path: '/api/2', headers: key, agent: false });
  aborted.on('error', () => {});
  aborted.end();
  await arrivals(2);
  const third = timed(gw, '/api/3', t0);
  await arrivals(3);
  const fourth = timed(gw, '/api/4', t0);
  await arrivals(4);
  aborted.destroy();

  // Had /api/2 kept its place, /api/3 would pass at 500 ms and /api/4 at 750.
  const r3 = await third;
  assert.equal(r3.res.status, 200);
  assert.ok(r3.ms >= 200 && r3.ms < 450, `/api/3 took the freed 250 ms slot: ${r3.ms} ms`);
  const r4 = await fourth;
  assert.equal(r4.res.status, 200);
  assert.ok(r4.ms >= 450, `/api/4 then waited its own token: ${r4.ms} ms`);
  // FIFO: anything still queued ahead of /api/4 would have been forwarded before it.
  assert.deepEqual(up.seen.map((s) => s.url), ['/api/1', '/api/3', '/api/4'], 'the origin never saw the aborted request');
  const line = await waitFor('the aborted request\'s line', () => gw.accessLines().find((l) => l.path === '/api/2'));
  assert.equal(line.status, 499);
});
