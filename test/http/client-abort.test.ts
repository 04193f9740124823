import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml } from '../helpers/http.js';

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
