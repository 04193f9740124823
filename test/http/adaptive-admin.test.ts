import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { OutgoingHttpHeaders } from 'node:http';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';
import { adminSend } from '../helpers/admin.js';
import { waitFor } from '../helpers/wait.js';
import { digestOf, unverifiedLabel } from '../../src/limit/keys.js';
import { FEATURE_NAMES } from '../../src/adaptive/types.js';

/**
 * Adaptive protection's admin side (issue 17, "Feedback loop"): the client
 * list and one client's view, labels through POST /v1/feedback and through
 * overrides, and the risk /v1/explain reports.
 */
const TOKEN = 'adaptive-admin-token-0123456789';

interface Listed { client: string; score: number | null; band: string | null; reason: string | null; top: { feature: string; value: number; contribution: number }[]; requests: number; refused: number }
interface OneClient extends Listed { features: Record<string, number> | null; score_now: number | null; weights_version: string; history: { at: string; from: string; to: string; score: number }[] }
interface Learned { key: string; label: string; score_before: number; score_after: number; weights_version: string }

async function api(): Promise<TestUpstream> {
  return startUpstream((req, res) => {
    const known = /^\/api\/items\/([1-9][0-9]?|100)$/.test(req.url ?? '');
    res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' }).end(known ? '{"ok":true}' : '{"error":"not found"}');
  });
}

/** A gateway keying clients by x-api-key (else address), with a limit no test client reaches; `adaptive` is the block's YAML, or none. */
async function setup(t: { after(fn: () => Promise<unknown>): void }, adaptive: string | null = '{ mode: shadow }'): Promise<TestGateway> {
  const up = await api();
  const gw = await startGateway(`rate_limit: { requests_per_second: 0.001, burst: 1000, key: ["header:x-api-key", ip], unverified_key_envelope: false }
${adaptive === null ? '' : `adaptive: ${adaptive}\n`}admin: { port: 0, token: ${TOKEN} }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return gw;
}

const BROWSER: OutgoingHttpHeaders = {
  'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  accept: 'application/json, text/plain, */*',
  'accept-language': 'en-GB,en;q=0.9',
};
// A script: Accept, but no User-Agent or Accept-Language; the shipped weights score it normal (about 35).
const SCRIPT: OutgoingHttpHeaders = { accept: 'application/json' };
const PROBES = ['/.env', '/wp-login.php', '/.git/config', '/admin/config.php', '/phpinfo.php', '/server-status', '/backup.zip', '/config.json'];
const label = (key: string) => unverifiedLabel(digestOf(key));

/** `n` requests, one after another, with a scanner's headers (none), a script's or a browser's. */
async function run(gw: TestGateway, key: string, n: number, kind: 'scan' | 'browse' | 'script'): Promise<RawResponse[]> {
  const out: RawResponse[] = [];
  for (let i = 0; i < n; i++) {
    const path = kind === 'scan' ? `/api${PROBES[i % PROBES.length]}?i=${i}` : `/api/items/${1 + ((i * 7) % 100)}`;
    const headers = kind === 'browse' ? BROWSER : kind === 'script' ? SCRIPT : {};
    out.push(await send(gw.url, path, { headers: { ...headers, 'x-api-key': key } }));
  }
  // The features are fed once each answer has gone (onResponse): wait until the last one is in.
  await waitFor(`${n} requests of ${key} observed`, async () => (await client(gw, key)).json<Listed>().requests >= n || undefined);
  return out;
}

const call = (gw: TestGateway, method: string, path: string, body?: unknown) => adminSend(gw, TOKEN, method, path, body);
const client = (gw: TestGateway, key: string) => call(gw, 'GET', `/v1/clients/${encodeURIComponent(key)}`);
const feedback = (gw: TestGateway, key: string, value: string) => call(gw, 'POST', '/v1/feedback', { key, label: value });

test('GET /v1/clients lists a scanner first by risk, with its band and reason; by requests, the busiest first', async (t) => {
  const gw = await setup(t);
  await run(gw, 'scanner-1', 20, 'scan');
  await run(gw, 'browser-1', 25, 'browse');
  const res = await call(gw, 'GET', '/v1/clients');
  assert.equal(res.status, 200, res.text);
  const { sort, clients } = res.json<{ sort: string; clients: Listed[] }>();
  assert.equal(sort, 'risk');
  assert.deepEqual(clients.map((c) => c.client), [label('scanner-1'), label('browser-1')]);
  const [scanner, browser] = clients as [Listed, Listed];
  assert.equal(scanner.band, 'blocked');
  assert.match(String(scanner.reason), /^TG_RISK_[A-Z_]+$/);
  assert.ok((scanner.score ?? 0) >= 85 && scanner.top.length > 0, JSON.stringify(scanner));
  assert.equal(scanner.requests, 20);
  assert.ok(browser.band === 'trusted' || browser.band === 'normal', JSON.stringify(browser));
  assert.equal(browser.reason, null, 'a band that does not act names no reason');
  assert.ok(!res.text.includes('scanner-1') && !res.text.includes('browser-1'), 'labels only, never a raw key');

  const busiest = (await call(gw, 'GET', '/v1/clients?sort=requests&limit=1')).json<{ clients: Listed[] }>().clients;
  assert.deepEqual(busiest.map((c) => [c.client, c.requests]), [[label('browser-1'), 25]]);
  for (const bad of ['sort=name', 'limit=0', 'limit=1001', 'limit=x', 'colour=red']) {
    assert.equal((await call(gw, 'GET', `/v1/clients?${bad}`)).status, 400, bad);
  }
});

test('GET /v1/clients/:key (raw key or label): features, score, band, explanation and band history; 404 for a client never seen', async (t) => {
  const gw = await setup(t);
  await run(gw, 'scanner-2', 12, 'scan');
  for (const form of ['scanner-2', label('scanner-2')]) {
    const res = await client(gw, form);
    assert.equal(res.status, 200, res.text);
    const one = res.json<OneClient>();
    assert.equal(one.client, label('scanner-2'));
    assert.deepEqual(Object.keys(one.features ?? {}), [...FEATURE_NAMES]);
    assert.equal(one.features?.not_found_share, 1);
    assert.equal(one.features?.no_user_agent, 1);
    assert.equal(one.band, 'blocked');
    assert.match(String(one.reason), /^TG_RISK_/);
    assert.ok(one.top.length > 0 && one.top.every((c) => c.contribution > 0));
    assert.equal(one.weights_version, 'risk-v1');
    assert.deepEqual(one.history.map((h) => [h.from, h.to]), [['normal', 'blocked']]);
    assert.ok(!Number.isNaN(Date.parse(one.history[0]?.at ?? '')), 'an ISO time');
    assert.ok(!res.text.includes('scanner-2'));
  }
  const missing = await client(gw, 'nobody-here');
  assert.equal(missing.status, 404);
  assert.equal(missing.json().error, 'client_not_seen');
});

test('feedback: bad raises a script\'s score until its band moves at its next request, good lowers it; each update logged, by label', async (t) => {
  const gw = await setup(t);
  await run(gw, 'script-1', 5, 'script');
  const before = (await client(gw, 'script-1')).json<OneClient>();
  assert.equal(before.band, 'normal', JSON.stringify(before));

  let learned: Learned | undefined;
  for (let i = 0; i < 30 && (learned?.score_after ?? 0) < 62; i++) {
    const res = await feedback(gw, 'script-1', 'bad');
    assert.equal(res.status, 200, res.text);
    learned = res.json<Learned>();
    assert.ok(learned.score_after > learned.score_before, JSON.stringify(learned));
  }
  assert.ok(learned !== undefined && learned.score_after >= 62, `bad labels raise the score: ${JSON.stringify(learned)}`);
  assert.equal(learned.key, label('script-1'));
  assert.match(learned.weights_version, /^risk-v1\+\d+$/);
  assert.equal((await client(gw, 'script-1')).json<OneClient>().score_now, learned.score_after, 'the client view scores with the learned weights');

  await run(gw, 'script-1', 6, 'script');
  const after = (await client(gw, 'script-1')).json<OneClient>();
  assert.equal(after.band, 'suspicious', JSON.stringify(after));
  assert.deepEqual(after.history.map((h) => [h.from, h.to]), [['normal', 'suspicious']]);

  const good = (await feedback(gw, 'script-1', 'good')).json<Learned>();
  assert.ok(good.score_after < good.score_before, JSON.stringify(good));

  const lines = gw.logs.filter((l) => l.msg === 'adaptive feedback');
  assert.ok(lines.length >= 2);
  const last = lines.at(-1) as Record<string, unknown>;
  assert.deepEqual([last.client, last.label, last.source, last.score_before, last.score_after, last.weights_version], [label('script-1'), 'good', 'api', good.score_before, good.score_after, good.weights_version]);
  assert.equal((last.features as Record<string, number>).no_user_agent, 1);
  assert.equal(typeof last.who, 'string');
  assert.ok(!JSON.stringify(gw.logs).includes('script-1'), 'no log line holds the raw key');

  const unseen = await feedback(gw, 'never-seen', 'bad');
  assert.deepEqual([unseen.status, unseen.json().error], [404, 'client_not_seen']);
  assert.equal((await feedback(gw, 'script-1', 'meh')).status, 400);
  assert.equal((await call(gw, 'POST', '/v1/feedback', { key: 'script-1' })).status, 400);
  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_feedback_total{label="good",source="api"}'), 1);
});

test('feedback with learn: false is 409 learning_disabled; with adaptive off every adaptive endpoint is 409 adaptive_off and explain carries no risk', async (t) => {
  const fixed = await setup(t, '{ mode: shadow, learn: false }');
  await run(fixed, 'script-2', 3, 'script');
  const refused = await feedback(fixed, 'script-2', 'bad');
  assert.deepEqual([refused.status, refused.json().error], [409, 'learning_disabled']);
  assert.equal((await client(fixed, 'script-2')).status, 200, 'reading is still allowed');

  const off = await setup(t, null);
  await send(off.url, '/api/items/1', { headers: { 'x-api-key': 'script-3' } });
  for (const [method, path, body] of [['GET', '/v1/clients'], ['GET', '/v1/clients/script-3'], ['POST', '/v1/feedback', { key: 'script-3', label: 'bad' }]] as const) {
    const res = await call(off, method, path, body);
    assert.deepEqual([res.status, res.json().error], [409, 'adaptive_off'], `${method} ${path}`);
  }
  const explained = await call(off, 'GET', '/v1/explain?path=/api/items/1&header.x-api-key=script-3');
  assert.equal(explained.json().risk, null);
});

test('explain carries the score and band: a seen scanner is risk_blocked (403) in enforce, a fresh client gets its first-sight assessment, and explaining changes no band', async (t) => {
  const gw = await setup(t, '{ mode: enforce }');
  const statuses = (await run(gw, 'scanner-3', 25, 'scan')).map((r) => r.status);
  assert.ok(statuses.includes(403), statuses.join(','));
  const explain = async (key: string, headers: Record<string, string> = {}) => {
    const q = new URLSearchParams({ path: '/api/.env', ip: '127.0.0.1', 'header.x-api-key': key, ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [`header.${k}`, v])) });
    const res = await call(gw, 'GET', `/v1/explain?${q}`);
    assert.equal(res.status, 200, res.text);
    return res.json<{ decision: string; status: number; risk: { score: number; band: string; reason: string | null; top: unknown[] } | null }>();
  };
  const scanner = await explain('scanner-3');
  assert.deepEqual([scanner.decision, scanner.status, scanner.risk?.band], ['risk_blocked', 403, 'blocked']);
  assert.match(String(scanner.risk?.reason), /^TG_RISK_/);
  assert.ok((scanner.risk?.score ?? 0) >= 85 && (scanner.risk?.top.length ?? 0) > 0);

  const fresh = await explain('fresh-1', BROWSER as Record<string, string>);
  assert.deepEqual([fresh.decision, fresh.status, fresh.risk?.band, fresh.risk?.reason], ['allowed', 200, 'normal', null]);
  assert.ok((fresh.risk?.score ?? 100) < 20, `a browser's headers score low: ${fresh.risk?.score}`);
  const headless = await explain('fresh-2');
  assert.ok((headless.risk?.score ?? 0) > (fresh.risk?.score ?? 100), 'no browser headers: a higher first-sight score');
  assert.equal((await client(gw, 'fresh-1')).status, 404, 'explaining made no record');
  const held = (await client(gw, 'scanner-3')).json<OneClient>();
  assert.equal(held.history.length, 1, 'explaining moved no band');
});

test('an admin block is feedback bad, a raise above the client\'s own rate feedback good, a cut none: counted in throttlegate_feedback_total', async (t) => {
  const gw = await setup(t);
  await run(gw, 'scanner-4', 10, 'scan');
  await run(gw, 'browser-2', 10, 'browse');
  const block = await call(gw, 'PUT', '/v1/limits/scanner-4', { block: true });
  assert.equal(block.status, 200, block.text);
  const blockFeedback = block.json<{ feedback: { label: string; source: string; score_before: number; score_after: number } }>().feedback;
  assert.deepEqual([blockFeedback.label, blockFeedback.source], ['bad', 'admin_block']);
  assert.ok(blockFeedback.score_after >= blockFeedback.score_before);

  // Own rate 0.001/s: 5/s raises it (good); 1/s after 5/s cuts it (nothing learned).
  const raise = await call(gw, 'PUT', `/v1/limits/${label('browser-2')}`, { requests_per_second: 5, burst: 10 });
  assert.deepEqual([raise.json<{ feedback?: { label: string; source: string } }>().feedback?.label, raise.json<{ feedback?: { source: string } }>().feedback?.source], ['good', 'admin_raise']);
  const cut = await call(gw, 'PUT', '/v1/limits/browser-2', { requests_per_second: 1, burst: 10 });
  assert.equal(cut.status, 200);
  assert.equal(cut.json().feedback, undefined);
  const unseen = await call(gw, 'PUT', '/v1/limits/never-seen', { block: true });
  assert.deepEqual([unseen.status, unseen.json().feedback], [200, undefined], 'a client with no features teaches nothing');

  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_feedback_total{label="bad",source="admin_block"}'), 1);
  assert.equal(metrics.get('throttlegate_feedback_total{label="good",source="admin_raise"}'), 1);
  assert.equal(metrics.get('throttlegate_feedback_total{label="bad",source="api"}'), undefined);
  const sources = gw.logs.filter((l) => l.msg === 'adaptive feedback').map((l) => [l.client, l.source]);
  assert.deepEqual(sources, [[label('scanner-4'), 'admin_block'], [label('browser-2'), 'admin_raise']]);
});

test('a client an operator labels good is never cut or blocked afterwards, even scoring as a scanner; a later bad label lifts that', async (t) => {
  const gw = await setup(t, '{ mode: enforce }');
  const before = await run(gw, 'vouched-1', 20, 'scan');
  assert.ok(before.some((r) => r.status === 403), 'it looked like a scanner and was blocked');
  const good = await adminSend(gw, TOKEN, 'POST', '/v1/feedback', { key: 'vouched-1', label: 'good' });
  assert.equal(good.status, 200, good.text);
  const after = await run(gw, 'vouched-1', 20, 'scan');
  assert.deepEqual(new Set(after.map((r) => r.status)), new Set([404]), 'every request reached the origin again');
  const view = (await adminSend(gw, TOKEN, 'GET', '/v1/clients/vouched-1')).json<OneClient>();
  assert.equal(view.band, 'normal');
  assert.ok(view.history.some((h) => h.to === 'normal'), JSON.stringify(view.history));

  assert.equal((await adminSend(gw, TOKEN, 'POST', '/v1/feedback', { key: 'vouched-1', label: 'bad' })).status, 200);
  const again = await run(gw, 'vouched-1', 3, 'scan');
  assert.equal(again.at(-1)?.status, 403, 'scored as before once the vouch is withdrawn');
});
