import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';
import { buildGateway, ConfigError, loadConfig } from '../../src/index.js';
import { createLogger } from '../../src/observability/logging.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

type After = { after(fn: () => Promise<unknown>): void };

// Raw keys: only their hashes go into config, and none may ever show up in a log line.
const PRO = 'pro-live-key-7f3a9c';
const FREE = 'free-live-key-21be04';
const PLAIN = 'plain-live-key-90dd1e';
const keysYaml = `api_keys:
  - { id: acme, hash: "${hashApiKey(PRO)}", plan: pro }
  - { id: hobby, hash: "${hashApiKey(FREE)}", plan: free }
  - { id: plain, hash: "${hashApiKey(PLAIN)}" }`;
// Buckets refill at one token per 100 s, so nothing refills during a test.
const plansYaml = (proBurst = 100) => `plans:
  free: { limits: [ { requests_per_second: 0.01, burst: 5 }, { algorithm: fixed_window, limit: 3, window: 1h } ] }
  pro: { limits: [ { requests_per_second: 0.01, burst: ${proBurst} } ] }`;

async function gatewayWith(t: After, options: { proBurst?: number; lockedExtra?: string } = {}) {
  const up = await startUpstream();
  const gw = await startGateway(`${plansYaml(options.proBurst)}
${keysYaml}
rate_limit: { requests_per_second: 0.01, burst: 3, key: [header:x-api-key, query:api_key, ip] }
routes:
${routesYaml([
    { path: '/api', upstream: up.url },
    { path: '/own', upstream: up.url, extra: 'rate_limit: { requests_per_second: 0.01, burst: 2 }' },
    { path: '/locked', upstream: up.url, extra: options.lockedExtra ?? 'require_api_key: true' },
  ])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}
const key = (k: string) => ({ 'x-api-key': k });

test('plans: a pro key gets the pro limit, a free key both free limits, a key-less client the route policy', async (t) => {
  const { gw } = await gatewayWith(t);
  const pro = await send(gw.url, '/api/x', { headers: key(PRO) });
  assert.equal(pro.headers['x-ratelimit-limit'], '100');
  assert.equal(pro.headers['x-ratelimit-remaining'], '99');
  assert.equal(pro.headers['ratelimit-policy'], '"plan:pro";q=100;w=10000');

  const free = [];
  for (let i = 0; i < 4; i++) free.push(await send(gw.url, '/api/x', { headers: key(FREE) }));
  assert.deepEqual(free.map((r) => r.status), [200, 200, 200, 429], 'the 3-per-hour window refuses while the bucket still has tokens');
  assert.equal(free[0]!.headers['ratelimit-policy'], '"plan:free#1";q=5;w=500, "plan:free#2";q=3;w=3600');
  // Headline is the limit closest to refusing: the window (2 left), not the bucket (4 left).
  assert.match(String(free[0]!.headers.ratelimit), /^"plan:free#2";r=2;t=\d+$/);
  // Fixed windows are aligned to the clock, so the hour ends anywhere from 1 s to 3600 s from now.
  const retryAfter = Number(free[3]!.headers['retry-after']);
  assert.ok(retryAfter >= 1 && retryAfter <= 3600, `refused until the window ends, not the bucket's 100 s: ${retryAfter}`);
  assert.equal(free[3]!.headers.ratelimit, `"plan:free#2";r=0;t=${free[3]!.headers['x-ratelimit-reset']}`);
  assert.equal(free[3]!.headers['x-ratelimit-limit'], '3');

  const anon = await send(gw.url, '/api/x');
  assert.equal(anon.headers['ratelimit-policy'], '"default";q=3;w=300');
  assert.equal(anon.headers['x-ratelimit-remaining'], '2');
});

test('a known key is keyed by its id: header or query, one bucket, shared across routes on plan limits', async (t) => {
  const { gw } = await gatewayWith(t);
  const left = async (path: string, headers: Record<string, string> = {}) => (await send(gw.url, path, { headers })).headers['x-ratelimit-remaining'];
  assert.equal(await left('/api/x', key(PRO)), '99');
  assert.equal(await left(`/api/x?api_key=${PRO}`), '98', 'the same key in the query: the same bucket');
  assert.equal(await left('/own/x', key(PRO)), '97', 'a route with its own policy: the plan bucket all the same');
  // A key without a plan keeps the route's limits, but in a bucket of its own rather than its IP's.
  assert.equal(await left('/api/x', key(PLAIN)), '2');
  assert.equal(await left('/api/x'), '2', 'the IP bucket was not touched by any keyed request');
  assert.deepEqual(gw.accessLines().map((l) => l.client), ['id:acme', 'id:acme', 'id:acme', 'id:plain', 'ip:127.0.0.1']);
});

test('unknown keys fall back to the client IP: 20 random keys share one bucket', async (t) => {
  const { up, gw } = await gatewayWith(t);
  const statuses = [];
  for (let i = 0; i < 20; i++) statuses.push((await send(gw.url, '/api/x', { headers: key(randomBytes(12).toString('hex')) })).status);
  assert.deepEqual(statuses, [...Array(3).fill(200), ...Array(17).fill(429)], 'burst 3, then refused');
  assert.equal(up.seen.length, 3);
  assert.equal((await send(gw.url, '/api/x')).status, 429, 'and that bucket is the key-less one');
  assert.equal((await send(gw.url, '/api/x', { headers: key(PRO) })).status, 200, 'a known key is apart');
  assert.ok(gw.accessLines().slice(0, 21).every((l) => l.client === 'ip:127.0.0.1' && l.key_id === undefined));
});

test('require_api_key: missing or unknown key -> 401 invalid_api_key; a known key passes', async (t) => {
  const { up, gw } = await gatewayWith(t);
  for (const headers of [{}, key('not-a-configured-key'), key('')]) {
    const res = await send(gw.url, '/locked/x', { headers });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { error: 'invalid_api_key' });
  }
  assert.equal((await send(gw.url, '/locked/x?api_key=nope')).status, 401);
  assert.equal(up.seen.length, 0, 'no refused request reached the upstream');
  assert.equal((await send(gw.url, '/locked/x', { headers: key(PRO) })).status, 200);
  assert.equal((await send(gw.url, `/locked/x?api_key=${PLAIN}`)).status, 200, 'a key without a plan is still a known key');
  assert.deepEqual(gw.accessLines().map((l) => l.decision), ['invalid_api_key', 'invalid_api_key', 'invalid_api_key', 'invalid_api_key', 'allowed', 'allowed']);
});

test('access lines carry key_id, plan and client id:<id>, and no log line ever holds a raw key', async (t) => {
  const { gw } = await gatewayWith(t);
  await send(gw.url, '/api/x', { headers: key(PRO) });
  await send(gw.url, `/api/x?api_key=${FREE}`);
  await send(gw.url, '/api/x', { headers: key(PLAIN) });
  await send(gw.url, '/locked/x', { headers: key('raw-unknown-key-5150') });
  for (let i = 0; i < 3; i++) await send(gw.url, '/api/x', { headers: key(FREE) });
  const lines = gw.accessLines();
  assert.deepEqual(lines.slice(0, 4).map((l) => [l.client, l.key_id, l.plan, l.decision]), [
    ['id:acme', 'acme', 'pro', 'allowed'],
    ['id:hobby', 'hobby', 'free', 'allowed'],
    ['id:plain', 'plain', undefined, 'allowed'],
    ['ip:127.0.0.1', undefined, undefined, 'invalid_api_key'],
  ]);
  assert.deepEqual([lines.at(-1)!.client, lines.at(-1)!.plan, lines.at(-1)!.decision], ['id:hobby', 'free', 'limited']);
  for (const line of gw.logs) {
    const text = JSON.stringify(line);
    for (const raw of [PRO, FREE, PLAIN, 'raw-unknown-key-5150']) assert.ok(!text.includes(raw), `a log line holds a raw key: ${text}`);
  }
});

test('throttlegate_rate_limited_total counts 429s by plan, anonymous for clients without one', async (t) => {
  const { gw } = await gatewayWith(t, { proBurst: 1 });
  for (let i = 0; i < 3; i++) await send(gw.url, '/api/x', { headers: key(PRO) });
  for (let i = 0; i < 5; i++) await send(gw.url, '/api/x');
  const m = await scrape(gw.url);
  assert.equal(m.get('throttlegate_rate_limited_total{route="/api",plan="pro"}'), 2);
  assert.equal(m.get('throttlegate_rate_limited_total{route="/api",plan="anonymous"}'), 2);
});

function configDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-keys-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return join(dir, 'config.yaml');
}

test('api_keys_file: keys load from a YAML file next to the config, added to the inline api_keys', async (t) => {
  const up = await startUpstream();
  const file = configDir({
    'config.yaml': `${plansYaml()}
api_keys: [ { id: inline, hash: "${hashApiKey(PLAIN)}" } ]
api_keys_file: keys.yaml
rate_limit: { requests_per_second: 0.01, burst: 3 }
routes:
${routesYaml([{ path: '/api', upstream: up.url, extra: 'require_api_key: true' }])}`,
    'keys.yaml': `- { id: from-file, hash: "${hashApiKey(PRO)}", plan: pro }\n- { id: free-file, hash: "${hashApiKey(FREE)}", plan: free }\n`,
  });
  const config = loadConfig(file, {});
  assert.deepEqual(config.apiKeys.map((k) => [k.id, k.plan]), [['inline', null], ['from-file', 'pro'], ['free-file', 'free']]);
  const gateway = await buildGateway(config, { logger: createLogger('silent'), port: 0, host: '127.0.0.1' });
  const url = await gateway.listen();
  t.after(() => Promise.all([gateway.close(), up.close()]));
  const fromFile = await send(url, '/api/x', { headers: key(PRO) });
  assert.equal(fromFile.status, 200);
  assert.equal(fromFile.headers['x-ratelimit-limit'], '100', 'the file entry brought its plan');
  assert.equal((await send(url, '/api/x', { headers: key(PLAIN) })).headers['x-ratelimit-limit'], '3');
  assert.equal((await send(url, '/api/x', { headers: key('unknown') })).status, 401);
});

test('a bad entry in api_keys_file is a config error naming the file and the field', () => {
  const file = configDir({
    'config.yaml': `api_keys_file: keys.yaml\nroutes:\n${routesYaml([{ path: '/api', upstream: 'http://127.0.0.1:1' }])}`,
    'keys.yaml': `- { id: ok, hash: "${hashApiKey(PRO)}" }\n- { id: broken, hash: "md5:0123abcd" }\n- { id: extra, hash: "${hashApiKey(FREE)}", secret: oops }\n`,
  });
  assert.throws(() => loadConfig(file, {}), (err: unknown) => {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.file, file);
    assert.deepEqual(err.problems.map((p) => p.path), ['api_keys_file (keys.yaml)[1].hash', 'api_keys_file (keys.yaml)[2].secret']);
    assert.match(err.message, /config\.yaml: api_keys_file \(keys\.yaml\)\[1\]\.hash: must match/);
    return true;
  });
  const missing = configDir({ 'config.yaml': `api_keys_file: nowhere.yaml\nroutes:\n${routesYaml([{ path: '/api', upstream: 'http://127.0.0.1:1' }])}` });
  assert.throws(() => loadConfig(missing, {}), /api_keys_file: cannot read .*nowhere\.yaml: file not found/);
});
