import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, get, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TrafficSeries, quantiles } from '../../src/dashboard/series.js';
import { DashboardFeed, type FeedLine } from '../../src/dashboard/feed.js';
import { DashboardSessions, csrfMatches } from '../../src/dashboard/session.js';
import { cookieValue, sessionCookie } from '../../src/dashboard/cookies.js';
import { StreamHub, sse } from '../../src/dashboard/hub.js';
import type { RequestSample } from '../../src/observability/metrics.js';

const BOUNDS = [0.001, 0.01, 0.1, 1];

function sample(routes: { route: string; byStatus: Record<number, number>; buckets?: number[] }[], rateLimited = 0): RequestSample {
  return {
    routes: routes.map((r) => {
      const byStatus = new Map(Object.entries(r.byStatus).map(([k, v]) => [Number(k), v] as const));
      const count = [...byStatus.values()].reduce((a, b) => a + b, 0);
      return { route: r.route, count, byStatus, buckets: Float64Array.from(r.buckets ?? [count, 0, 0, 0, 0]) };
    }),
    bounds: BOUNDS,
    rateLimited,
    configHash: 'abc',
    lastReload: null,
  };
}

test('series: each point is the difference between two samples; totals are since start', () => {
  const series = new TrafficSeries();
  series.add(1_000, sample([{ route: '/a', byStatus: { 200: 10 } }]));
  series.add(2_000, sample([{ route: '/a', byStatus: { 200: 15, 429: 4, 403: 1 } }, { route: '/b', byStatus: { 502: 2 } }], 4));
  const [first, second] = series.points;
  assert.deepEqual({ ...first, p50: null, p99: null }, { t: 1, requests: 0, limited: 0, blocked: 0, errors: 0, p50: null, p99: null });
  assert.equal(second?.requests, 12);
  assert.equal(second?.limited, 4);
  assert.equal(second?.blocked, 1);
  assert.equal(second?.errors, 2);
  assert.deepEqual(series.totals, { requests: 22, limited: 4, blocked: 1, errors: 2, allowed: 15 });
  // /a: 10 requests in the second, 5 refused (429 and 403) over the window.
  assert.deepEqual(series.route('/a'), { rps: 5, refusalShare: 5 / 10 });
  assert.deepEqual(series.route('/nowhere'), { rps: 0, refusalShare: 0 });
});

test('series: keeps 15 minutes of points', () => {
  const series = new TrafficSeries();
  for (let s = 0; s < 1_000; s++) series.add(s * 1000, sample([{ route: '/a', byStatus: { 200: s } }]));
  assert.equal(series.points.length, 900);
  assert.equal(series.points.at(-1)?.t, 999);
});

test('quantiles interpolate within a bucket as histogram_quantile does, in ms', () => {
  // 100 observations: 50 in (0, 1ms], 49 in (1, 10ms], 1 above 1 s.
  const q = quantiles(Float64Array.from([50, 49, 0, 0, 1]), BOUNDS);
  assert.equal(q.p50, 1);
  assert.ok(Math.abs((q.p99 as number) - 10) < 1e-9, String(q.p99));
  assert.deepEqual(quantiles(Float64Array.from([0, 0, 0, 0, 0]), BOUNDS), { p50: null, p99: null });
  assert.equal(quantiles(Float64Array.from([0, 0, 0, 0, 4]), BOUNDS).p99, 1000, 'above the last bound: the last bound');
});

const line = (client: string, time: number, status = 200, decision = 'allowed'): FeedLine => ({ time, method: 'GET', path: '/x', route: '/api', client, status, decision, duration_ms: 1, band: null, user_agent: null });

test('feed: clients are counted over two 30 s generations; refusals by decision', () => {
  let now = 0;
  const feed = new DashboardFeed(() => now);
  for (let i = 0; i < 5; i++) feed.record(line('ip:a', now), undefined, undefined);
  feed.record(line('ip:b', now, 429, 'limited'), undefined, undefined);
  now = 31_000;
  feed.record(line('ip:a', now, 403, 'blocked'), undefined, undefined);
  const byClient = new Map(feed.clients().map((c) => [c.client, c]));
  assert.equal(byClient.get('ip:a')?.requests, 6);
  assert.equal(byClient.get('ip:a')?.refusals, 1);
  assert.equal(byClient.get('ip:a')?.lastStatus, 403);
  assert.equal(byClient.get('ip:b')?.refusals, 1);
  now = 62_000;
  feed.record(line('ip:c', now), undefined, undefined);
  assert.deepEqual(feed.clients().map((c) => c.client).sort(), ['ip:a', 'ip:c'], 'the first generation has left the window');
  now = 200_000;
  assert.deepEqual(feed.clients(), [], 'nothing recorded for two generations: an empty window');
});

test('feed: the tail keeps at most 50 lines a second, newest first; a watched client keeps its own', () => {
  const feed = new DashboardFeed(() => 0);
  feed.record(line('ip:w', 500), undefined, undefined);
  feed.record(line('ip:o', 600), undefined, undefined);
  assert.deepEqual(feed.watch('ip:seeded').length, 0);
  const recent = feed.watch('ip:w');
  assert.deepEqual(recent.map((l) => l.time), [500], 'seeded from the tail');
  recent.length = 0;
  for (let i = 0; i < 80; i++) feed.record(line(i % 2 === 0 ? 'ip:w' : 'ip:o', 1_000 + i), undefined, undefined);
  assert.equal(feed.seq, 52);
  const lines = feed.linesSince(2);
  assert.equal(lines.length, 50);
  assert.equal(lines[0]?.time, 1_049, 'newest first');
  assert.equal(feed.linesSince(47).length, 5);
  feed.record(line('ip:o', 2_000), undefined, undefined);
  assert.equal(feed.seq, 53, 'a new second samples again');
  assert.equal(recent.length, 40);
  assert.equal(recent[0]?.time, 1_078);
  feed.unwatch('ip:w');
  feed.record(line('ip:w', 2_001), undefined, undefined);
  assert.equal(recent.length, 40, 'no longer kept once unwatched');
});

test('sessions expire, end when their token leaves the config, and check CSRF in constant time', () => {
  let now = 0;
  const sessions = new DashboardSessions(() => now, 1_000);
  const s = sessions.create('ops', 'd1');
  assert.equal(sessions.get(s.id, () => true)?.who, 'ops');
  assert.equal(sessions.get('nope', () => true), undefined);
  assert.equal(sessions.get(s.id, () => false), undefined, 'its token was removed');
  assert.equal(sessions.get(s.id, () => true), undefined, 'and it stays ended');
  const t = sessions.create('ops', 'd1');
  now = 1_000;
  assert.equal(sessions.get(t.id, () => true), undefined, 'expired');
  const u = sessions.create('ops', 'd1');
  assert.equal(csrfMatches(u, u.csrf), true);
  assert.equal(csrfMatches(u, `${u.csrf}x`), false);
  assert.equal(csrfMatches(u, undefined), false);
  assert.equal(csrfMatches(u, [u.csrf]), false);
  assert.notEqual(u.id, u.csrf);
  assert.match(u.id, /^[A-Za-z0-9_-]{43}$/);
});

test('cookies: the session cookie is HttpOnly, SameSite=Strict, for every path, and read back by name', () => {
  assert.equal(sessionCookie('abc', 60, false), 'tg_session=abc; HttpOnly; SameSite=Strict; Path=/; Max-Age=60');
  assert.match(sessionCookie('abc', 60, true), /; Secure$/);
  assert.equal(cookieValue('a=1; tg_session=xyz; b=2', 'tg_session'), 'xyz');
  assert.equal(cookieValue('tg_sessionx=1', 'tg_session'), undefined);
  assert.equal(cookieValue(undefined, 'tg_session'), undefined);
});

test('hub: ten subscribers of one topic share one computation per tick', async (t) => {
  let ticks = 0;
  let snapshots = 0;
  const actives: boolean[] = [];
  const hub = new StreamHub(50, (a) => actives.push(a));
  const server = createServer((_req, res: ServerResponse) => {
    void hub.subscribe('overview', () => ({
      snapshot: async () => sse('snapshot', { n: ++snapshots }),
      tick: async () => sse('snapshot', { tick: ++ticks }),
      wholeState: true,
    }), res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const received: string[][] = [];
  const requests = Array.from({ length: 10 }, (_, i) => {
    received[i] = [];
    return get({ host: '127.0.0.1', port, path: '/' }, (res) => res.on('data', (c: Buffer) => (received[i] as string[]).push(c.toString())));
  });
  const until = Date.now() + 10_000;
  while (received.some((r) => !r.join('').includes('"tick":3')) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  for (const r of requests) r.destroy();
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(received.every((r) => r.join('').includes('"tick":3')), 'every subscriber got the third tick');
  assert.ok(ticks <= 5, `one tick computation per interval, not one per subscriber (${ticks})`);
  assert.equal(snapshots, 1, 'later subscribers of a live topic get its snapshot without a new topic');
  assert.deepEqual(actives, [true, false], 'active from the first subscriber to the last');
  assert.equal(hub.subscribers, 0);
});
