import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutgoingHttpHeaders } from 'node:http';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';
import { adminSend } from '../helpers/admin.js';
import { parseConfig } from '../../src/index.js';

const TOKEN = 'adaptive-admin-token-0123456789';

/** An API that knows /api/items/1..100 and answers 404 for everything else, as a real one would. */
async function api(): Promise<TestUpstream> {
  return startUpstream((req, res) => {
    const known = /^\/api\/items\/([1-9][0-9]?|100)$/.test(req.url ?? '');
    res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' }).end(known ? '{"ok":true}' : '{"error":"not found"}');
  });
}

async function setup(t: { after(fn: () => Promise<unknown>): void }, mode: 'shadow' | 'enforce'): Promise<{ up: TestUpstream; gw: TestGateway }> {
  const up = await api();
  // A generous limit no test client reaches: what changes a client's answers here is its score alone.
  const gw = await startGateway(`rate_limit: { requests_per_second: 0.001, burst: 1000, key: ["header:x-api-key", ip], unverified_key_envelope: false }
adaptive: { mode: ${mode} }
admin: { port: 0, token: ${TOKEN} }
routes:
${routesYaml([{ path: '/api', upstream: up.url }, { path: '/open', upstream: up.url, extra: 'adaptive: false' }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

const BROWSER: OutgoingHttpHeaders = {
  'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  accept: 'application/json, text/plain, */*',
  'accept-language': 'en-GB,en;q=0.9',
};
const PROBES = ['/.env', '/wp-login.php', '/.git/config', '/admin/config.php', '/phpinfo.php', '/server-status', '/backup.zip', '/config.json'];

/** A 404 scanner: no User-Agent, no Accept, a new exploit path each time. */
async function scan(url: string, key: string, n: number, prefix = '/api'): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await send(url, `${prefix}${PROBES[i % PROBES.length]}?i=${i}`, { headers: { 'x-api-key': key } }));
  return out;
}

async function browse(url: string, key: string, n: number): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await send(url, `/api/items/${1 + ((i * 7) % 100)}`, { headers: { ...BROWSER, 'x-api-key': key } }));
  return out;
}

test('enforce: a 404 scanner is blocked (403 forbidden, explained in its access line) within 20 requests; a browser is never refused', async (t) => {
  const { up, gw } = await setup(t, 'enforce');
  const scanner = await scan(gw.url, 'scanner-1', 30);
  const first = scanner.findIndex((r) => r.status === 403);
  assert.ok(first >= 0 && first < 20, `first 403 at request ${first + 1}; statuses ${scanner.map((r) => r.status).join(',')}`);
  for (const r of scanner.slice(first)) {
    assert.equal(r.status, 403, 'once blocked, blocked for block_for');
    assert.deepEqual(r.json(), { error: 'forbidden' });
  }
  assert.equal(up.seen.filter((s) => s.url.includes('?i=')).length, first, 'no blocked request reached the origin');

  const browser = await browse(gw.url, 'browser-1', 30);
  assert.deepEqual(new Set(browser.map((r) => r.status)), new Set([200]));

  const lines = gw.accessLines();
  const blocked = lines.filter((l) => l.decision === 'risk_blocked');
  assert.equal(blocked.length, 30 - first);
  for (const l of blocked) {
    assert.equal(l.band, 'blocked');
    assert.equal(l.risk_action, 'blocked');
    assert.ok(typeof l.risk === 'number' && l.risk >= 85, `score ${String(l.risk)}`);
    assert.match(String(l.risk_reason), /^TG_RISK_[A-Z_]+$/);
  }
  const browserLines = lines.filter((l) => String(l.path).startsWith('/api/items/'));
  assert.ok(browserLines.every((l) => l.band !== 'blocked' && l.band !== 'suspicious'), 'the browser stays trusted or normal');

  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_adaptive_actions_total{route="/api",band="blocked",action="blocked"}'), 30 - first);
  assert.ok((metrics.get('throttlegate_risk_clients{band="blocked"}') ?? 0) >= 1);
});

test('shadow: the same traffic changes nothing a client sees; what enforce would do is logged and counted', async (t) => {
  const { up, gw } = await setup(t, 'shadow');
  const scanner = await scan(gw.url, 'scanner-1', 30);
  assert.deepEqual(new Set(scanner.map((r) => r.status)), new Set([404]), 'every probe reached the origin and got its 404');
  assert.equal(up.seen.length, 30);
  const lines = gw.accessLines();
  const would = lines.filter((l) => l.risk_action === 'would_block');
  assert.ok(would.length >= 11, `would_block on ${would.length} of 30`);
  assert.ok(lines.every((l) => l.decision !== 'risk_blocked'));
  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_adaptive_actions_total{route="/api",band="blocked",action="would_block"}'), would.length);
  assert.equal(metrics.get('throttlegate_adaptive_actions_total{route="/api",band="blocked",action="blocked"}') ?? 0, 0);
});

test('a route with adaptive: false is never scored, and an operator override wins over the score', async (t) => {
  const { gw } = await setup(t, 'enforce');
  const open = await scan(gw.url, 'scanner-2', 30, '/open');
  assert.deepEqual(new Set(open.map((r) => r.status)), new Set([404]));
  assert.ok(gw.accessLines().every((l) => l.risk === undefined), 'no line of an adaptive: false route carries a score');

  // The operator vouches for this client with a limit override: its score no longer moves it.
  const put = await adminSend(gw, TOKEN, 'PUT', '/v1/limits/scanner-3', { requests_per_second: 100, burst: 100 });
  assert.equal(put.status, 200, put.text);
  const vouched = await scan(gw.url, 'scanner-3', 30);
  assert.deepEqual(new Set(vouched.map((r) => r.status)), new Set([404]));
});

test('a reload from shadow to enforce keeps what was learned of each client: a scanner seen in shadow is blocked at its next request', async (t) => {
  const { up, gw } = await setup(t, 'shadow');
  const shadowed = await scan(gw.url, 'scanner-4', 12);
  assert.deepEqual(new Set(shadowed.map((r) => r.status)), new Set([404]));
  const yaml = `rate_limit: { requests_per_second: 0.001, burst: 1000, key: ["header:x-api-key", ip], unverified_key_envelope: false }
adaptive: { mode: enforce }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`;
  await gw.gateway.reload(parseConfig(yaml, 'reloaded.yaml', {}));
  const next = await send(gw.url, '/api/.env', { headers: { 'x-api-key': 'scanner-4' } });
  assert.equal(next.status, 403);
  assert.equal(gw.accessLines().at(-1)?.decision, 'risk_blocked');
});

test('shadow would block exactly the requests enforce blocks, on the same traffic', async (t) => {
  const runs: Record<string, string[]> = {};
  for (const mode of ['shadow', 'enforce'] as const) {
    const { gw } = await setup(t, mode);
    await scan(gw.url, 'scanner-5', 30);
    await browse(gw.url, 'browser-5', 10);
    runs[mode] = gw.accessLines().map((l) => String(l.risk_action ?? '-'));
  }
  const asEnforce = (runs.shadow ?? []).map((a) => (a === 'would_block' ? 'blocked' : a === 'would_limit' ? 'limited' : a));
  assert.ok(asEnforce.includes('blocked'), 'the scanner was blocked at some point');
  assert.deepEqual(asEnforce, runs.enforce);
});

test('shadow would limit exactly the requests enforce limits by a band\'s cut, on the same traffic: the mirror counts what the cut limits would have', async (t) => {
  const runs: Record<string, { actions: string[]; bands: string[]; statuses: number[] }> = {};
  for (const mode of ['shadow', 'enforce'] as const) {
    const up = await api();
    // No refill to speak of: burst 40 is the whole budget, 10 once the band cuts it to a quarter.
    const gw = await startGateway(`rate_limit: { requests_per_second: 0.001, burst: 40, key: ["header:x-api-key", ip], unverified_key_envelope: false }
adaptive: { mode: ${mode} }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
    t.after(() => Promise.all([gw.close(), up.close()]));
    const statuses: number[] = [];
    // A script: curl's agent, probing paths that 404. Suspicious, not blocked.
    for (let i = 0; i < 36; i++) {
      const path = `/api/missing/${i}`;
      statuses.push((await send(gw.url, path, { headers: { 'user-agent': 'curl/8.5.0', accept: '*/*', 'x-api-key': 'script-1' } })).status);
    }
    const lines = gw.accessLines();
    runs[mode] = { actions: lines.map((l) => String(l.risk_action ?? '-')), bands: lines.map((l) => String(l.band)), statuses };
  }
  const shadow = runs.shadow as { actions: string[]; bands: string[]; statuses: number[] };
  const enforce = runs.enforce as { actions: string[]; bands: string[]; statuses: number[] };
  assert.ok(enforce.actions.includes('limited'), `enforce cut the script's limits and refused: ${enforce.actions.join(',')} bands ${enforce.bands.join(',')}`);
  assert.ok(!enforce.actions.includes('blocked'), 'the script is suspicious, not blocked');
  assert.deepEqual(shadow.bands, enforce.bands, 'both modes moved the client through the same bands');
  assert.deepEqual(shadow.actions.map((a) => (a === 'would_limit' ? 'limited' : a)), enforce.actions);
  assert.ok(shadow.statuses.every((s) => s !== 429 && s !== 403), 'shadow refused nothing');
  assert.deepEqual(enforce.statuses.map((s) => (s === 429 ? 'refused' : 'passed')), enforce.actions.map((a) => (a === 'limited' ? 'refused' : 'passed')));
});
