import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ServerResponse } from 'node:http';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { monotonicClock } from '../../src/limit/stores/store.js';
import { waitFor } from '../helpers/wait.js';

async function setup(t: { after(fn: () => Promise<unknown>): void }, routes: { path: string; rateLimit: string }[], handler?: Parameters<typeof startUpstream>[0]) {
  const up = await startUpstream(handler);
  // The key-rotation envelope is off: these clients are keys, and the headers would list it (test/security/key-rotation.test.ts).
  const rateLimit = (r: { rateLimit: string }) => r.rateLimit.replace(/ }$/, ', unverified_key_envelope: false }');
  const gw = await startGateway(`routes:\n${routesYaml(routes.map((r) => ({ path: r.path, upstream: up.url, extra: `rate_limit: ${rateLimit(r)}` })))}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

const key = { 'x-api-key': 'alice' };
async function fire(url: string, path: string, n: number): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await send(url, path, { headers: key }));
  return out;
}
const limitHeaders = (r: RawResponse) => [r.status, ...['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset', 'retry-after'].map((h) => r.headers[h])];

test('gcra answers exactly as the token bucket of the same rate and burst', async (t) => {
  // 0.01/s: no token comes back while the test runs, so whole-second headers cannot drift apart.
  const { gw } = await setup(t, [
    { path: '/tb', rateLimit: '{ requests_per_second: 0.01, burst: 3 }' },
    { path: '/gcra', rateLimit: '{ algorithm: gcra, requests_per_second: 0.01, burst: 3 }' },
  ]);
  const tb = await fire(gw.url, '/tb', 5);
  const gcra = await fire(gw.url, '/gcra', 5);
  assert.deepEqual(gcra.map(limitHeaders), tb.map(limitHeaders));
  assert.deepEqual(tb.map(limitHeaders), [
    [200, '3', '2', '100', undefined],
    [200, '3', '1', '200', undefined],
    [200, '3', '0', '300', undefined],
    [429, '3', '0', '300', '100'],
    [429, '3', '0', '300', '100'],
  ]);
  assert.equal(gcra[0]!.headers['ratelimit-policy'], '"/gcra";q=3;w=300');
});

test('fixed_window: the limit per window, reset at the window\'s end', async (t) => {
  const { gw } = await setup(t, [{ path: '/fw', rateLimit: '{ algorithm: fixed_window, limit: 3, window: 1h }' }]);
  // Windows align to the store's clock (this process's: the gateway runs in it).
  const secondsLeft = () => (3_600_000 - (monotonicClock() % 3_600_000)) / 1000;
  const before = secondsLeft();
  const rs = await fire(gw.url, '/fw', 4);
  const after = secondsLeft();
  assert.ok(after < before, 'the test did not straddle a window boundary');
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 429]);
  assert.deepEqual(rs.map((r) => r.headers['x-ratelimit-limit']), ['3', '3', '3', '3']);
  assert.deepEqual(rs.map((r) => r.headers['x-ratelimit-remaining']), ['2', '1', '0', '0']);
  assert.equal(rs[0]!.headers['ratelimit-policy'], '"/fw";q=3;w=3600');
  for (const r of rs) {
    const reset = Number(r.headers['x-ratelimit-reset']);
    assert.ok(reset >= Math.ceil(after) && reset <= Math.ceil(before), `Reset ${reset} is the window's end (${after}..${before} s away)`);
  }
  assert.equal(rs[3]!.headers['retry-after'], rs[3]!.headers['x-ratelimit-reset'], 'a refused request waits for the next window');
});

test('sliding_window: the limit per window, then 429', async (t) => {
  const { up, gw } = await setup(t, [{ path: '/sw', rateLimit: '{ algorithm: sliding_window, limit: 3, window: 1h }' }]);
  const rs = await fire(gw.url, '/sw', 5);
  assert.deepEqual(rs.map((r) => r.status), [200, 200, 200, 429, 429]);
  assert.deepEqual(rs.map((r) => r.headers['x-ratelimit-remaining']), ['2', '1', '0', '0', '0']);
  assert.equal(rs[0]!.headers['x-ratelimit-limit'], '3');
  assert.equal(rs[0]!.headers['ratelimit-policy'], '"/sw";q=3;w=3600');
  assert.ok(Number(rs[3]!.headers['retry-after']) > 0);
  assert.equal(up.seen.length, 3);
});

test('concurrency: at most `limit` in flight; a finished or abandoned request frees its slot', async (t) => {
  // The origin holds every response until the test ends it.
  const held = new Map<string, ServerResponse>();
  const { up, gw } = await setup(t, [{ path: '/c', rateLimit: '{ algorithm: concurrency, limit: 2 }' }], (req, res) => void held.set(req.url ?? '', res));
  t.after(() => held.forEach((res) => res.end()));
  const finish = (url: string) => held.get(url)!.end('done');
  const reached = (n: number) => waitFor(`${n} requests at the origin`, () => up.seen.length >= n);

  const a = send(gw.url, '/c/a', { headers: key });
  const b = request({ host: '127.0.0.1', port: gw.port, path: '/c/b', headers: key, agent: false });
  b.on('error', () => {});
  b.end();
  await reached(2);

  const third = await send(gw.url, '/c/third', { headers: key });
  assert.equal(third.status, 429, 'two are in flight');
  assert.equal(third.headers['retry-after'], '1', 'time frees nothing: a hint of one second');
  assert.deepEqual(third.json(), { error: 'rate_limited', retry_after: 1 });
  assert.equal(third.headers['x-ratelimit-limit'], '2');
  assert.equal(third.headers['ratelimit-policy'], '"/c";q=2', 'no window for a count');

  // One finishes: its slot is free for the next.
  finish('/c/a');
  assert.equal((await a).status, 200);
  const d = send(gw.url, '/c/d', { headers: key });
  await reached(3);
  assert.equal((await send(gw.url, '/c/full', { headers: key })).status, 429, 'b and d hold both slots');

  // b's client goes away while the origin still holds its response. The
  // gateway does not hang up on the origin then (the proxy lets the upstream
  // request run), so the signal is b's 499 line, written as its socket closes,
  // after the response's own 'close' that gives the slot back.
  b.destroy();
  await waitFor('b logged as client-closed', () => gw.accessLines().some((l) => l.path === '/c/b' && l.status === 499));
  const e = send(gw.url, '/c/e', { headers: key });
  await reached(4);
  assert.deepEqual(up.seen.map((s) => s.url).sort(), ['/c/a', '/c/b', '/c/d', '/c/e'], 'no refused request was forwarded');
  assert.equal((await send(gw.url, '/c/over', { headers: key })).status, 429, 'd and e hold both slots');

  finish('/c/d');
  finish('/c/e');
  assert.deepEqual([(await d).status, (await e).status], [200, 200]);
});
