import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';

test('method, path, query and headers reach the upstream intact', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
    const res = await send(gw.url, '/api/items/7?b=2&a=1&a=%7e&x=%2F&empty=', {
      method,
      headers: { 'x-custom': 'kept', 'content-type': 'text/plain' },
      body: method === 'GET' || method === 'OPTIONS' || method === 'DELETE' ? undefined : `body for ${method}`,
    });
    assert.equal(res.status, 200, method);
    const seen = up.seen.at(-1)!;
    assert.equal(seen.method, method);
    assert.equal(seen.url, '/api/items/7?b=2&a=1&a=%7e&x=%2F&empty=', 'query byte for byte, no re-encoding');
    assert.equal(seen.headers['x-custom'], 'kept');
    if (method !== 'GET' && method !== 'OPTIONS' && method !== 'DELETE') assert.equal(seen.body.toString(), `body for ${method}`);
  }
  const head = await send(gw.url, '/api/x', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(up.seen.at(-1)!.method, 'HEAD');
});

test('X-Forwarded-* and X-Request-Id are set; a client X-Request-Id is kept', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const res = await send(gw.url, '/api/x', { headers: { 'x-request-id': 'abc-123', host: 'public.example' } });
  const h = up.seen.at(-1)!.headers;
  assert.equal(h['x-forwarded-for'], '127.0.0.1');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-forwarded-host'], 'public.example');
  assert.equal(h['x-request-id'], 'abc-123');
  assert.equal(h.host, up.url.slice('http://'.length), 'Host is the upstream');
  assert.equal(res.headers['x-request-id'], undefined, 'the upstream decides what it echoes');

  await send(gw.url, '/api/x');
  assert.match(String(up.seen.at(-1)!.headers['x-request-id']), /^[0-9a-f-]{36}$/, 'generated when absent');
});

test('strip_prefix and upstream base paths shape the forwarded path', async (t) => {
  const up = await startUpstream();
  const yaml = `routes:\n${routesYaml([
    { path: '/api', upstream: up.url },
    { path: '/s', upstream: up.url, extra: 'strip_prefix: true' },
    { path: '/b', upstream: `${up.url}/base/`, extra: 'strip_prefix: true' },
    { path: '/k', upstream: `${up.url}/base` },
  ])}`;
  const gw = await startGateway(yaml);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const forwarded = async (p: string) => {
    const r = await send(gw.url, p);
    assert.equal(r.status, 200, p);
    return up.seen.at(-1)!.url;
  };
  assert.equal(await forwarded('/api'), '/api');
  assert.equal(await forwarded('/api/'), '/api/');
  assert.equal(await forwarded('/api/a/b?q=1'), '/api/a/b?q=1');
  assert.equal(await forwarded('/s/a/b'), '/a/b');
  assert.equal(await forwarded('/s'), '/');
  assert.equal(await forwarded('/b/a?x=y'), '/base/a?x=y');
  assert.equal(await forwarded('/k/a'), '/base/k/a');
});

test('request and response bodies stream through byte for byte, never decoded', async (t) => {
  const gz = gzipSync(Buffer.from('{"compressed": true}'));
  const up = await startUpstream((req, res, body) => {
    if (req.url === '/api/gz') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gz);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(body); // echo raw bytes
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const odd = '{ "a" :1,"b":[1 , 2],  "z":"\\u00e9" }'; // JSON with spacing a re-serialiser would change
  const res = await send(gw.url, '/api/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: odd });
  assert.equal(res.text, odd);
  assert.equal(up.seen.at(-1)!.body.toString(), odd, 'upstream got the exact bytes');

  const zipped = await send(gw.url, '/api/gz', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(zipped.headers['content-encoding'], 'gzip');
  assert.deepEqual(zipped.body, gz, 'gzip body passed through, not decompressed');
});

test('a large chunked upload streams to the upstream without buffering', async (t) => {
  const up = await startUpstream((req, res, body) => res.writeHead(200).end(String(body.length)));
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const chunk = Buffer.alloc(64 * 1024, 7);
  const chunks = 32; // 2 MiB
  const { hostname, port } = new URL(gw.url);
  const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
    const req = request({ host: hostname, port, path: '/api/upload', method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    let i = 0;
    const writeNext = () => {
      while (i < chunks) {
        i++;
        if (!req.write(chunk)) return void req.once('drain', writeNext);
      }
      req.end();
    };
    writeNext();
  });
  assert.equal(status.code, 200);
  assert.equal(status.body, String(chunk.length * chunks));
});
