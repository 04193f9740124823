import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';

/** A port with nothing listening: bind, read the port, close. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function metricValue(base: string, line: RegExp): Promise<number> {
  const text = (await send(base, '/metrics')).text;
  const hit = text.split('\n').find((l) => line.test(l));
  return hit ? Number(hit.split(' ').at(-1)) : 0;
}

test('connection refused -> 502 bad_gateway, a metric and exactly one log line', async (t) => {
  const port = await deadPort();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: `http://127.0.0.1:${port}` }])}`);
  t.after(() => gw.close());
  const r = await send(gw.url, '/api/x');
  assert.equal(r.status, 502);
  assert.deepEqual(r.json(), { error: 'bad_gateway' });
  assert.equal(await metricValue(gw.url, /^throttlegate_upstream_errors_total\{route="\/api",reason="refused"\}/), 1);
  const lines = gw.logs.filter((l) => l.path === '/api/x' || String(l.msg).includes('error'));
  assert.equal(lines.length, 1, JSON.stringify(gw.logs));
  assert.equal(lines[0]!.upstream_error, 'refused');
  assert.equal(lines[0]!.status, 502);
});

test('upstream resets the connection -> 502', async (t) => {
  const up = await startUpstream((req) => req.socket.destroy());
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const r = await send(gw.url, '/api/x', { method: 'POST', body: 'x' });
  assert.equal(r.status, 502);
  assert.deepEqual(r.json(), { error: 'bad_gateway' });
  assert.equal(await metricValue(gw.url, /^throttlegate_upstream_errors_total\{route="\/api",reason="reset"\}/), 1);
});

test('upstream slower than timeout_ms -> 504 gateway_timeout', async (t) => {
  const up = await startUpstream((_req, res) => {
    const timer = setTimeout(() => res.end('late'), 2000);
    res.on('close', () => clearTimeout(timer));
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/slow', upstream: up.url, extra: 'timeout_ms: 150' }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const started = Date.now();
  const r = await send(gw.url, '/slow/x');
  assert.equal(r.status, 504);
  assert.deepEqual(r.json(), { error: 'gateway_timeout' });
  assert.ok(Date.now() - started < 1500, 'answered at the timeout, not when the upstream finished');
  assert.equal(await metricValue(gw.url, /^throttlegate_upstream_errors_total\{route="\/slow",reason="timeout"\}/), 1);
});

test('an upstream with a self-signed certificate is refused unless tls_verify: false', async (t) => {
  const { createSecureServer } = await import('../helpers/tls.js');
  const tls = await createSecureServer();
  if (!tls) {
    t.diagnostic('openssl not found: TLS verification test needs it to make a certificate');
    if (process.env.CI) assert.fail('openssl is required in CI');
    return;
  }
  const gw = await startGateway(`routes:\n${routesYaml([
    { path: '/strict', upstream: tls.url },
    { path: '/lax', upstream: tls.url, extra: 'tls_verify: false' },
  ])}`);
  t.after(() => Promise.all([gw.close(), tls.close()]));
  const strict = await send(gw.url, '/strict/x');
  assert.equal(strict.status, 502);
  assert.equal(await metricValue(gw.url, /^throttlegate_upstream_errors_total\{route="\/strict",reason="tls"\}/), 1);
  assert.equal((await send(gw.url, '/lax/x')).status, 200);
});
