import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { freePort } from '../helpers/redis.js';
import { CLI, writeConfig } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

/**
 * explain (GET /v1/explain, `throttlegate explain`) against the live
 * gateway, one refusal kind at a time: the same request is explained and
 * sent, and explain must give the status the gateway answered, the name its
 * error body (or /ready's body) carries, and the decision its access line logs.
 */
const TOKEN = 'ops-token-0123456789abcdef';

interface Explained { route: { path: string } | null; refusal: string | null; answer: Record<string, unknown> | null; decision: string; status: number }
interface Probe { method?: string; path: string; ip?: string; headers?: Record<string, string>; body?: string }
interface Live { status: number; body: Record<string, unknown>; decision: unknown }

const yaml = (upstream: string, extra = '') => `server: { trust_proxy: true, max_body_bytes: 1024 }
admin: { token: "${TOKEN}", expose_metrics: true }
api_keys:
  - { id: acme, hash: "${hashApiKey('secret-acme')}" }
deny: [192.0.2.0/24]
rate_limit: { requests_per_second: 0.01, burst: 1 }
${extra}routes:
${routesYaml([
  { path: '/api', upstream },
  { path: '/ro', upstream, extra: 'methods: [GET]' },
  { path: '/keyed', upstream, extra: 'require_api_key: true' },
  { path: '/open', upstream, extra: 'rate_limit: false' },
])}`;

async function setup(t: { after(fn: () => Promise<unknown>): void }, extra = '') {
  const up = await startUpstream();
  const gw = await startGateway(yaml(up.url, extra));
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

async function explain(gw: TestGateway, p: Probe): Promise<Explained> {
  const q = new URLSearchParams({ path: p.path, ip: p.ip ?? '198.51.100.1', method: p.method ?? 'GET' });
  for (const [name, value] of Object.entries(p.headers ?? {})) q.set(`header.${name}`, value);
  const res = await send(gw.adminUrl!, `/v1/explain?${q}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200, res.text);
  return res.json<Explained>();
}

/** The request, byte for byte on a socket of its own (a Content-Length http.request would not send), and its access line. */
async function live(gw: TestGateway, p: Probe): Promise<Live> {
  const before = gw.accessLines().length;
  const headers = { 'x-forwarded-for': p.ip ?? '198.51.100.1', ...p.headers };
  const head = `${p.method ?? 'GET'} ${p.path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: gw.port });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${p.method} ${p.path}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.write(head + (p.body ?? ''));
  });
  const status = Number(text.split(' ')[1]);
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  // A head Node's parser refuses never reaches an app: no access line.
  const line = status === 400 && p.headers?.['content-length'] === 'abc' ? undefined : await waitFor('the access line', () => gw.accessLines()[before]);
  if (line !== undefined) assert.equal(line.status, status);
  return { status, body: body.startsWith('{') ? (JSON.parse(body) as Record<string, unknown>) : {}, decision: line?.decision };
}

/** Explains, then sends: explain must say what the gateway then does. */
async function agree(gw: TestGateway, p: Probe, expected: { status: number; refusal?: string | null; decision?: string }): Promise<Explained> {
  const said = await explain(gw, p);
  const got = await live(gw, p);
  const what = `${p.method ?? 'GET'} ${p.path} ${JSON.stringify(p.headers ?? {})}`;
  assert.equal(got.status, expected.status, `the gateway: ${what}`);
  assert.equal(said.status, got.status, `explain's status: ${what}`);
  if (got.decision !== undefined) assert.equal(said.decision, got.decision, `explain's decision is the access line's: ${what}`);
  if (expected.decision !== undefined) assert.equal(said.decision, expected.decision, what);
  // A refusal before the limits is named as the gateway's error body names it (a gate's or a limit's, by the decision).
  if (said.refusal !== null && typeof got.body.error === 'string') assert.equal(said.refusal, got.body.error, what);
  if (expected.refusal !== undefined) assert.equal(said.refusal, expected.refusal, what);
  return said;
}

const big = (n: number) => ({ headers: { 'content-length': String(n) }, body: 'x'.repeat(n) });

test('explain agrees with the gateway before the limits: 400, 404, 405, 413, and its own endpoints', async (t) => {
  const { up, gw } = await setup(t);
  await agree(gw, { path: '/api/a%2Fb' }, { status: 400, refusal: 'bad_request' });
  await agree(gw, { path: '/api/x', headers: { 'content-length': 'abc' } }, { status: 400, refusal: 'bad_request' });
  await agree(gw, { path: '/nowhere' }, { status: 404, refusal: 'not_found', decision: 'none' });
  await agree(gw, { method: 'POST', path: '/ro/x' }, { status: 405, refusal: 'method_not_allowed', decision: 'none' });
  // Over max_body_bytes as declared, on a route, on a route without limits, and on the gateway's own endpoint.
  const tooLarge = await agree(gw, { method: 'POST', path: '/api/x', ...big(2048) }, { status: 413, refusal: 'payload_too_large', decision: 'none' });
  assert.equal(tooLarge.route?.path, '/api');
  await agree(gw, { method: 'POST', path: '/open/x', ...big(1025) }, { status: 413, refusal: 'payload_too_large', decision: 'unlimited' });
  await agree(gw, { method: 'POST', path: '/health', ...big(2048) }, { status: 413, refusal: 'payload_too_large' });
  await agree(gw, { method: 'POST', path: '/api/x', ...big(1024) }, { status: 200, refusal: null, decision: 'allowed' });
  await agree(gw, { method: 'POST', path: '/health' }, { status: 404, refusal: 'not_found' });
  await agree(gw, { path: '/metrics' }, { status: 404, refusal: 'not_found' });
  const health = await agree(gw, { path: '/health' }, { status: 200, refusal: 'reserved', decision: 'none' });
  assert.deepEqual(health.answer, { status: 'ok' });
  const ready = await agree(gw, { path: '/ready' }, { status: 200, refusal: 'reserved' });
  assert.deepEqual(ready.answer, { status: 'ready', store: 'ok' });
  assert.equal(up.seen.length, 1, 'only the request within the size limit was forwarded');
});

test('explain agrees with the gateway on the gates and limits: 403 deny, 403 block, 401, 429', async (t) => {
  const { gw } = await setup(t);
  await agree(gw, { path: '/api/x', ip: '192.0.2.9' }, { status: 403, decision: 'denied', refusal: null });
  const put = await send(gw.adminUrl!, '/v1/limits/ip:198.51.100.5', {
    method: 'PUT',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ block: true }),
  });
  assert.equal(put.status, 200, put.text);
  await agree(gw, { path: '/api/x', ip: '198.51.100.5' }, { status: 403, decision: 'blocked' });
  await agree(gw, { path: '/keyed/x', ip: '198.51.100.6' }, { status: 401, decision: 'invalid_api_key' });
  await agree(gw, { path: '/api/x', ip: '198.51.100.7' }, { status: 200, decision: 'allowed' });
  await agree(gw, { path: '/api/x', ip: '198.51.100.7' }, { status: 429, decision: 'limited' });
});

test('explain agrees with the gateway while it is not ready: /ready 503, the limit step 503, /health 200', async (t) => {
  // A Redis store with nothing listening at its address and on_error: closed: the store is down from the start.
  const port = await freePort();
  const { up, gw } = await setup(t, `store:\n  type: redis\n  redis: { url: "redis://127.0.0.1:${port}", timeout_ms: 50, on_error: closed }\n`);
  const ready = await agree(gw, { path: '/ready' }, { status: 503, refusal: 'not_ready', decision: 'none' });
  assert.deepEqual(ready.answer, { status: 'not_ready', reason: 'store_unavailable' });
  assert.deepEqual(ready.answer, (await send(gw.url, '/ready')).json(), 'the body /ready answers');
  await agree(gw, { method: 'HEAD', path: '/ready' }, { status: 503 });
  await agree(gw, { path: '/health' }, { status: 200, refusal: 'reserved' });
  await agree(gw, { path: '/api/x' }, { status: 503, decision: 'refused_store_unavailable' });
  await agree(gw, { path: '/open/x', ...big(2048), method: 'PUT' }, { status: 413, decision: 'unlimited' });
  assert.equal(up.seen.length, 0);
});

test('throttlegate explain (offline) gives the live gateway\'s answer: 413, 405, and /ready as a fresh gateway', async (t) => {
  const { gw } = await setup(t);
  const config = writeConfig(yaml('http://127.0.0.1:1'));
  const cli = (...args: string[]): Explained => {
    const r = spawnSync(process.execPath, [CLI, 'explain', '--config', config, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Explained;
  };
  const cases: [Probe, string[]][] = [
    [{ method: 'POST', path: '/api/x', ...big(2048) }, ['POST', '/api/x', '--header', 'content-length:2048']],
    [{ method: 'POST', path: '/ro/x' }, ['POST', '/ro/x']],
    [{ method: 'POST', path: '/health', ...big(1025) }, ['POST', '/health', '--header', 'Content-Length: 1025']],
    [{ path: '/ready' }, ['GET', '/ready']],
  ];
  for (const [probe, args] of cases) {
    const said = cli(...args);
    const got = await live(gw, probe);
    assert.equal(said.status, got.status, args.join(' '));
    assert.equal(said.refusal, typeof got.body.error === 'string' ? got.body.error : 'reserved', args.join(' '));
  }
  assert.deepEqual([cli('POST', '/api/x', '--header', 'content-length:2048').status, cli('POST', '/ro/x').status], [413, 405]);
});
