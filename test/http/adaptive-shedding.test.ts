import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';

const BROWSER: OutgoingHttpHeaders = {
  'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  accept: 'application/json, text/plain, */*',
  'accept-language': 'en-GB,en;q=0.9',
  'x-api-key': 'browser',
};
// A 404 scanner (as in adaptive-protection.test.ts): no User-Agent, Accept or Accept-Language; a new exploit path each time.
const SCANNER: OutgoingHttpHeaders = { 'x-api-key': 'scanner' };
const PROBES = ['/.env', '/wp-login.php', '/.git/config', '/admin/config.php', '/phpinfo.php', '/server-status', '/backup.zip', '/config.json'];
const SLOW_MS = 200;
const MIN_LIMIT = 6;

/**
 * Why the assertions cannot flake: the limit never falls below min_limit (6),
 * and at most 2 scanner and 2 browser requests are ever in flight. A browser
 * request finds at most 3 others in flight, under normal's share (6 x 0.9 =
 * 5.4), so it is admitted whatever the limit and the timing; a scanner
 * request finding the other 3 in flight is at suspicious's share (6 x 0.5 =
 * 3) once the slowed upstream has driven the limit down to 6, which the load
 * below keeps up until it has seen that happen (bounded by request counts,
 * not by sleeps).
 */
test('a slowed upstream: suspicious requests are shed 503 overloaded, browsers on the same route never', async (t) => {
  let slow = false;
  const up = await startUpstream((req, res) => {
    const known = /^\/api\/items\/\d+$/.test(req.url ?? '');
    const answer = () => res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' }).end(known ? '{"ok":true}' : '{"error":"not found"}');
    if (slow) setTimeout(answer, SLOW_MS);
    else answer();
  });
  // Bands: only a score of 100 blocks, so the scanner stays suspicious and reaches the concurrency limit.
  const gw = await startGateway(`rate_limit: { requests_per_second: 1000, burst: 1000, key: ["header:x-api-key", ip], unverified_key_envelope: false }
adaptive: { mode: enforce, bands: { suspicious: { below: 100 } } }
routes:
${routesYaml([{ path: '/api', upstream: up.url, extra: `adaptive_concurrency: { min_limit: ${MIN_LIMIT}, max_limit: 40, initial_limit: 20, sample_window: 50ms, min_rtt_interval: 60s }` }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  let n = 0;
  const browse = () => send(gw.url, `/api/items/${1 + (n++ % 100)}`, { headers: BROWSER });
  const scan = () => send(gw.url, `/api${PROBES[n++ % PROBES.length]}?i=${n}`, { headers: SCANNER });

  // Fast upstream: the first minRTT measurement (20 answers) completes, and each client gets its band.
  for (let i = 0; i < 25; i++) assert.equal((await browse()).status, 200);
  let scanned = 0;
  while (gw.accessLines().at(-1)?.band !== 'suspicious') {
    assert.ok(++scanned <= 20, `the scanner is suspicious within 20 requests (bands: ${gw.accessLines().map((l) => l.band).join(',')})`);
    assert.equal((await scan()).status, 404);
  }
  const warm = gw.accessLines().length;

  slow = true;
  const browser: RawResponse[] = [];
  const scanner: RawResponse[] = [];
  const shedSoFar = () => scanner.filter((r) => r.status === 503).length;
  const enough = () => shedSoFar() >= 5;
  const loop = async (go: () => Promise<RawResponse>, into: RawResponse[], cap: number) => {
    for (let i = 0; i < cap && !enough(); i++) into.push(await go());
  };
  await Promise.all([loop(browse, browser, 25), loop(browse, browser, 25), loop(scan, scanner, 40), loop(scan, scanner, 40)]);

  const shed = scanner.filter((r) => r.status === 503);
  assert.ok(shed.length >= 1, `some scanner requests were shed (scanner statuses: ${scanner.map((r) => r.status).join(',')})`);
  for (const r of shed) {
    assert.deepEqual(r.json(), { error: 'overloaded' });
    assert.equal(r.headers['retry-after'], '1');
  }
  assert.ok(scanner.every((r) => r.status === 503 || r.status === 404), 'the scanner got nothing else (no 403: it stayed suspicious)');
  assert.ok(browser.length >= 2, 'browsers sent requests while the scanner was shed');
  assert.deepEqual(new Set(browser.map((r) => r.status)), new Set([200]), 'no browser request was shed');

  const lines = gw.accessLines().slice(warm);
  const overloaded = lines.filter((l) => l.decision === 'overloaded');
  assert.equal(overloaded.length, shed.length, 'each shed request has its access line, decision overloaded');
  assert.ok(overloaded.every((l) => l.band === 'suspicious' && l.status === 503));
  assert.ok(lines.filter((l) => l.client !== undefined && l.band !== 'suspicious').every((l) => l.decision !== 'overloaded'));

  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_shed_total{route="/api",band="suspicious"}'), shed.length);
  assert.equal(metrics.get('throttlegate_shed_total{route="/api",band="normal"}') ?? 0, 0);
  assert.equal(metrics.get('throttlegate_shed_total{route="/api",band="trusted"}') ?? 0, 0);
  const limit = metrics.get('throttlegate_route_concurrency_limit{route="/api"}');
  assert.ok(limit !== undefined && limit >= MIN_LIMIT && limit <= 40, `limit gauge ${limit}`);
});

test('a slot is given back exactly once: when the response ends, or when the client goes away first', async (t) => {
  // /api/hold/* waits until the test answers it; anything else is answered at once.
  const held: ServerResponse[] = [];
  const up = await startUpstream((req, res) => {
    if (req.url?.startsWith('/api/hold/')) held.push(res);
    else res.writeHead(200).end('ok');
  });
  // A fixed limit of 2 (min = max): normal requests are admitted while fewer than 1.8 are in flight.
  const gw = await startGateway(`routes:
${routesYaml([{ path: '/api', upstream: up.url, extra: 'adaptive_concurrency: { min_limit: 2, max_limit: 2, initial_limit: 2 }' }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const { hostname, port } = new URL(gw.url);
  const fast = async () => (await send(gw.url, '/api/fast')).status;

  const leaving = request({ host: hostname, port, path: '/api/hold/1', agent: false });
  leaving.on('error', () => {});
  leaving.end();
  const staying = send(gw.url, '/api/hold/2');
  await waitFor('both held requests at the origin', () => held.length === 2);
  assert.equal(await fast(), 503, 'two in flight: the route is full');

  leaving.destroy();
  await waitFor('the slot of the client that left given back', async () => (await fast()) === 200);
  (held[1] as ServerResponse).writeHead(200).end('done');
  assert.equal((await staying).status, 200);

  // Nothing in flight now, and never less: two are admitted again and a third is not.
  const again = [send(gw.url, '/api/hold/3'), send(gw.url, '/api/hold/4')];
  await waitFor('two more held requests at the origin', () => held.length === 4);
  assert.equal(await fast(), 503, 'each slot was given back once: a double release would have let this one in');
  for (const res of held.slice(2)) res.writeHead(200).end('done');
  assert.deepEqual((await Promise.all(again)).map((r) => r.status), [200, 200]);
});
