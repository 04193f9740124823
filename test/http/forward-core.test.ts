import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request, type IncomingMessage } from 'node:http';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { waitFor } from '../helpers/pool.js';

// The forwarding core (src/proxy/forward.ts): what a client and an origin see of it.

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** GET through a raw request; resolves with how the response ended: complete, or aborted mid-body. */
function download(url: string, path: string): Promise<{ status: number; bytes: number; complete: boolean; trailersOk: boolean }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const req = request({ host: hostname, port, path, agent: false }, (res: IncomingMessage) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, complete: res.complete, trailersOk: true }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, bytes, complete: false, trailersOk: false }));
    });
    req.on('error', () => resolve({ status: 0, bytes: 0, complete: false, trailersOk: false }));
    req.end();
  });
}

test('a client that aborts mid-download cancels the upstream request: the origin sees its connection close', async (t) => {
  let originClosed = false;
  let written = 0;
  const chunk = Buffer.alloc(64 * 1024, 1);
  const up = await startUpstream(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const timer = setInterval(() => {
        res.write(chunk);
        written += chunk.length;
      }, 5);
      res.on('close', () => {
        clearInterval(timer);
        originClosed = true;
      });
    },
    { bufferBody: false },
  );
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const { hostname, port } = new URL(gw.url);
  await new Promise<void>((resolve) => {
    const req = request({ host: hostname, port, path: '/api/endless', agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', () => {});
    req.end();
  });
  await waitFor(() => originClosed, 5_000, 'the origin to see its response closed');
  const at = written;
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(written, at, 'nothing more is read from the origin');
  await waitFor(() => gw.accessLines().length === 1, 5_000, 'the 499 access line');
  assert.equal(gw.accessLines()[0]!.status, 499);
});

for (const framing of ['content-length', 'chunked'] as const) {
  test(`an upstream that dies mid-body (${framing}) leaves the client an aborted response, and the access line says so`, async (t) => {
    const up = await startUpstream((_req, res) => {
      res.writeHead(200, framing === 'content-length' ? { 'content-length': 1_000_000 } : {});
      res.write(Buffer.alloc(100_000, 7), () => setTimeout(() => res.socket?.destroy(), 20));
    });
    const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
    t.after(() => Promise.all([gw.close(), up.close()]));

    const r = await download(gw.url, '/api/file');
    assert.equal(r.status, 200, 'the head was already sent');
    assert.equal(r.complete, false, 'never a complete response');
    assert.ok(r.bytes < 1_000_000);
    await waitFor(() => gw.accessLines().length === 1, 5_000, 'the access line');
    const line = gw.accessLines()[0]!;
    assert.equal(line.upstream_error, 'reset', JSON.stringify(line));
    assert.equal(line.upstream, up.url);
  });
}

test('HEAD, 204 and 304 carry no body, and the keep-alive connection stays usable after each', async (t) => {
  const up = await startUpstream((req, res) => {
    if (req.url === '/api/nocontent') return res.writeHead(204, { 'x-kind': 'empty' }).end();
    if (req.url === '/api/cached') return res.writeHead(304, { etag: '"v1"' }).end();
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 11 }).end(req.method === 'HEAD' ? undefined : 'hello world');
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => Promise.all([gw.close(), up.close(), agent.destroy()]));
  const { hostname, port } = new URL(gw.url);
  const one = (method: string, path: string, headers: Record<string, string> = {}) =>
    new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>((resolve, reject) => {
      const req = request({ host: hostname, port, path, method, agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on('error', reject);
      req.end();
    });

  const head = await one('HEAD', '/api/file');
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '11', 'HEAD keeps the length of the GET');
  assert.equal(head.body.length, 0);
  const none = await one('GET', '/api/nocontent');
  assert.equal(none.status, 204);
  assert.equal(none.headers['x-kind'], 'empty');
  assert.equal(none.body.length, 0);
  const cached = await one('GET', '/api/cached', { 'if-none-match': '"v1"' });
  assert.equal(cached.status, 304);
  assert.equal(cached.headers.etag, '"v1"');
  assert.equal(cached.body.length, 0);
  const get = await one('GET', '/api/file');
  assert.equal(get.body.toString(), 'hello world', 'no stray bytes were left on the connection');
});

test('hop-by-hop fields are removed both ways (Connection-listed ones too), end-to-end ones kept', async (t) => {
  const up = await startUpstream((_req, res) => {
    res.setHeader('connection', 'x-origin-hop');
    res.setHeader('x-origin-hop', 'secret');
    res.setHeader('keep-alive', 'timeout=77, max=3');
    res.setHeader('proxy-authenticate', 'Basic');
    res.setHeader('trailer', 'x-checksum');
    res.setHeader('x-end-to-end', 'kept');
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.end('ok');
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const res = await send(gw.url, '/api/x', {
    headers: { connection: 'keep-alive, x-client-hop', 'x-client-hop': '1', 'keep-alive': 'timeout=1', te: 'gzip', 'proxy-authorization': 'Basic eA==', 'x-end-to-end': 'in' },
  });
  assert.equal(res.status, 200);
  const seen = up.seen.at(-1)!.headers;
  for (const name of ['x-client-hop', 'keep-alive', 'te', 'proxy-authorization']) assert.equal(seen[name], undefined, name);
  assert.equal(seen['x-end-to-end'], 'in');
  for (const name of ['x-origin-hop', 'proxy-authenticate', 'trailer']) assert.equal(res.headers[name], undefined, name);
  // The gateway's own Node server may announce its Keep-Alive; the origin's never reaches the client.
  assert.notEqual(res.headers['keep-alive'], 'timeout=77, max=3');
  assert.equal(res.headers['x-end-to-end'], 'kept');
  assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
});

test('20 MB binary bodies pass byte for byte both ways (sha256), sized and chunked uploads alike', async (t) => {
  const blob = randomBytes(20 * 1024 * 1024);
  const up = await startUpstream((req, res, body) => {
    if (req.method === 'GET') return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(blob);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${body.length} ${sha256(body)}`);
  });
  const gw = await startGateway(`server: { max_body_bytes: 30000000 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const down = await send(gw.url, '/api/blob');
  assert.equal(down.status, 200);
  assert.equal(sha256(down.body), sha256(blob));
  const sized = await send(gw.url, '/api/upload', { method: 'PUT', headers: { 'content-type': 'application/octet-stream', 'content-length': blob.length }, body: blob });
  assert.equal(sized.text, `${blob.length} ${sha256(blob)}`);

  const { hostname, port } = new URL(gw.url);
  const chunked = await new Promise<string>((resolve, reject) => {
    const req = request({ host: hostname, port, path: '/api/upload', method: 'POST', agent: false, headers: { 'content-type': 'text/plain' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    req.on('error', reject);
    for (let i = 0; i < blob.length; i += 1 << 20) req.write(blob.subarray(i, i + (1 << 20)));
    req.end();
  });
  assert.equal(chunked, `${blob.length} ${sha256(blob)}`);
});

test('a redirect Location passes through untouched (the internal mount path never leaks)', async (t) => {
  const up = await startUpstream((_req, res) => res.writeHead(302, { location: '/api/login?next=%2Fapi' }).end());
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const res = await send(gw.url, '/api/private');
  assert.equal(res.status, 302);
  assert.equal(res.headers.location, '/api/login?next=%2Fapi');
});
