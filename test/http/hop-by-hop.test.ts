import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';

test('Connection: x-api-key cannot move a client into a fresh bucket', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(`rate_limit: { requests_per_second: 1, burst: 1 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  assert.equal((await send(gw.url, '/api/x', { headers: { 'x-api-key': 'k1' } })).status, 200);
  const trick = await send(gw.url, '/api/x', { headers: { 'x-api-key': 'k1', connection: 'x-api-key' } });
  assert.equal(trick.status, 429, 'the key was read before hop-by-hop stripping');
});

test('hop-by-hop request headers are dropped; gateway X-Forwarded-* cannot be removed by Connection', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  await send(gw.url, '/api/x', {
    headers: {
      connection: 'keep-alive, x-secret-hop, x-forwarded-for, x-request-id',
      'x-secret-hop': 'drop me',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'proxy-authorization': 'Basic Zm9vOmJhcg==',
      te: 'gzip',
      'x-end-to-end': 'keep me',
    },
  });
  const h = up.seen.at(-1)!.headers;
  for (const name of ['x-secret-hop', 'keep-alive', 'proxy-connection', 'proxy-authorization', 'te']) assert.equal(h[name], undefined, name);
  assert.equal(h['x-end-to-end'], 'keep me');
  assert.equal(h['x-forwarded-for'], '127.0.0.1', 'set by the gateway after stripping');
  assert.ok(h['x-request-id'], 'set by the gateway after stripping');
});

test('hop-by-hop response headers from the upstream are dropped', async (t) => {
  const up = await startUpstream((_req, res) => {
    res.writeHead(200, { connection: 'x-up-hop', 'x-up-hop': 'internal', 'keep-alive': 'timeout=99', 'x-visible': 'yes' }).end('ok');
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const r = await send(gw.url, '/api/x');
  assert.equal(r.headers['x-up-hop'], undefined);
  assert.notEqual(r.headers['keep-alive'], 'timeout=99');
  assert.equal(r.headers['x-visible'], 'yes');
});
