import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';

async function setup(t: { after(fn: () => Promise<unknown>): void }) {
  const up = await startUpstream();
  const gw = await startGateway(`server: { max_header_bytes: 4096, max_body_bytes: 1000 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

test('headers over max_header_bytes -> 431, upstream untouched', async (t) => {
  const { up, gw } = await setup(t);
  const r = await send(gw.url, '/api/x', { headers: { 'x-big': 'a'.repeat(8000) } });
  assert.equal(r.status, 431);
  assert.deepEqual(r.json(), { error: 'request_header_fields_too_large' });
  assert.equal(up.seen.length, 0);
});

test('Content-Length over max_body_bytes -> 413 before anything is forwarded', async (t) => {
  const { up, gw } = await setup(t);
  const r = await send(gw.url, '/api/x', { method: 'POST', body: 'x'.repeat(1001) });
  assert.equal(r.status, 413);
  assert.deepEqual(r.json(), { error: 'payload_too_large' });
  assert.equal(up.seen.length, 0);
  assert.equal((await send(gw.url, '/api/x', { method: 'POST', body: 'x'.repeat(1000) })).status, 200, 'at the limit is fine');
});

test('a chunked body that grows past max_body_bytes is cut with 413', async (t) => {
  const up = await startUpstream(undefined, { bufferBody: true });
  const gw = await startGateway(`server: { max_body_bytes: 1000 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const { hostname, port } = new URL(gw.url);
  const status = await new Promise<number>((resolve) => {
    const req = request({ host: hostname, port, path: '/api/up', method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(-1));
    for (let i = 0; i < 5; i++) req.write('y'.repeat(400));
    req.end();
  });
  assert.equal(status, 413);
  assert.ok(up.seen.every((s) => s.body.length <= 1000), 'the upstream never got more than the limit');
});
