import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';
import { scrape } from '../helpers/metrics.js';

/** Resolves when `check` holds, polling; fails after `ms`. Waits on real events, not a fixed sleep. */
async function eventually(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) assert.fail('condition not reached in time');
    await sleep(10);
  }
}

test('a client that aborts mid-download frees the upstream socket, leaving no error behind', async (t) => {
  let upstreamClosed = false;
  const up = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const chunk = Buffer.alloc(16 * 1024, 1);
    const timer = setInterval(() => res.write(chunk), 5);
    res.on('close', () => {
      clearInterval(timer);
      upstreamClosed = true;
    });
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  await new Promise<void>((resolve) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path: '/api/stream' }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.end();
  });
  await eventually(() => upstreamClosed);
  await eventually(() => gw.accessLines().length === 1);
  assert.equal(gw.accessLines()[0]!.status, 499, 'logged as client-closed');
  const text = JSON.stringify(gw.logs);
  assert.doesNotMatch(text, /already sent|ERR_STREAM|FST_ERR/i, text);
});

test('a client that aborts before the upstream answers leaves no "reply already sent"', async (t) => {
  let release: () => void = () => {};
  const up = await startUpstream((_req, res) => {
    release = () => res.end('late');
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const req = request({ host: '127.0.0.1', port: gw.port, path: '/api/wait' });
  req.on('error', () => {});
  req.end();
  await eventually(() => up.seen.length === 1);
  req.destroy();
  await sleep(50);
  release();
  await eventually(() => gw.accessLines().length === 1);
  assert.doesNotMatch(JSON.stringify(gw.logs), /already sent|FST_ERR/i);
});

test('clients that abort while the upstream hangs free its connections at once: the pool never runs dry', async (t) => {
  const up = await startUpstream((req, res) => {
    if (req.url === '/api/fast') res.end('fast');
    // Anything else is never answered.
  });
  let open = 0;
  up.server.on('connection', (socket) => {
    open++;
    socket.on('close', () => open--);
  });
  const timeoutMs = 60_000;
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url, extra: `timeout_ms: ${timeoutMs}` }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  // More clients than a target's pool has connections (128, upstream/target.ts): the rest wait in its queue.
  const poolSize = 128;
  const clients = Array.from({ length: poolSize + 20 }, (_, i) => {
    const req = request({ host: '127.0.0.1', port: gw.port, path: `/api/hang/${i}`, agent: false });
    req.on('error', () => {});
    req.end();
    return req;
  });
  await waitFor('the pool to be full', () => open === poolSize, 20_000);
  for (const req of clients) req.destroy();
  await waitFor('every upstream connection to close', () => open === 0, 10_000);

  const started = performance.now();
  const r = await send(gw.url, '/api/fast');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'fast');
  assert.ok(performance.now() - started < timeoutMs / 4, 'served from a free pool, not after the hung requests timed out');

  await waitFor('an access line per aborted client', () => gw.accessLines().length === clients.length + 1, 10_000);
  const aborted = gw.accessLines().filter((l) => String(l.path).startsWith('/api/hang/'));
  assert.ok(aborted.every((l) => l.status === 499 && l.upstream_error === undefined), 'a client hang-up is not an upstream failure');
  // Nor counted as one, for the route or against the target (passive ejection and the breaker read the same outcome).
  const failures = [...(await scrape(gw.url)).keys()].filter(
    (series) => series.startsWith('throttlegate_upstream_errors_total') || (series.startsWith('throttlegate_upstream_requests_total') && !series.includes('status="200"')),
  );
  assert.deepEqual(failures, []);
});
