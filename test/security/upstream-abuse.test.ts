import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';

// Forwarding abuse from both ends: uploads the upstream client must handle
// (Expect: 100-continue), and upstreams that answer with hostile framing.

/** An upload the way curl sends one: headers with `Expect: 100-continue`, the body only after `100 Continue`. */
function uploadWithExpect(port: number, body: Buffer): Promise<{ status: number; text: string; continued: boolean }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/api/upload',
      method: 'POST',
      agent: false,
      headers: { expect: '100-continue', 'content-type': 'application/octet-stream', 'content-length': body.length },
    });
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), continued }));
    });
    req.on('error', reject);
  });
}

for (const [name, size] of [
  ['a small body', 3],
  ['a body over 1 MB (curl adds Expect by itself)', 1536 * 1024],
] as const) {
  test(`Expect: 100-continue with ${name} reaches the upstream intact`, async (t) => {
    const up = await startUpstream((_req, res, body) => res.writeHead(200).end(String(body.length)));
    const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
    t.after(() => Promise.all([gw.close(), up.close()]));
    const body = Buffer.alloc(size);
    for (let i = 0; i < size; i++) body[i] = (i * 31) % 251;
    const r = await uploadWithExpect(gw.port, body);
    assert.equal(r.status, 200, r.text);
    assert.ok(r.continued, 'the client was told 100 Continue');
    assert.equal(up.seen.length, 1);
    assert.ok(up.seen[0]!.body.equals(body), 'the body arrived byte for byte');
    assert.equal(up.seen[0]!.headers.expect, undefined, 'the handshake is the gateway\'s own, not passed on');
  });
}

/** A raw TCP upstream whose `respond` writes the answer to each request: framing Node's server would never produce. */
async function rawUpstream(respond: (socket: Socket) => void): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    // Requests here have no body: each blank line ends one (keep-alive sends the next on the same socket).
    let head = '';
    socket.on('data', (c: Buffer) => {
      head += c.toString('latin1');
      for (let end = head.indexOf('\r\n\r\n'); end !== -1; end = head.indexOf('\r\n\r\n')) {
        head = head.slice(end + 4);
        respond(socket);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

test('hop-by-hop and limit headers from an upstream never reach the client', async (t) => {
  const up = await rawUpstream((s) =>
    s.write(
      'HTTP/1.1 200 OK\r\nConnection: close, x-internal-hop\r\nKeep-Alive: timeout=99\r\nX-Internal-Hop: secret\r\n' +
        'Proxy-Authenticate: Basic\r\nTrailer: x-checksum\r\nUpgrade: h2c\r\n' +
        'X-RateLimit-Remaining: 999999\r\nRateLimit-Remaining: 999999\r\nRateLimit-Limit: 999999\r\nRateLimit: "up";r=999999;t=1\r\nRetry-After: 0\r\n' +
        'X-End-To-End: kept\r\nContent-Length: 2\r\n\r\nok',
    ),
  );
  const gw = await startGateway(`rate_limit: { requests_per_second: 1, burst: 5 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const r = await send(gw.url, '/api/x');
  assert.equal(r.status, 200);
  assert.equal(r.text, 'ok');
  assert.equal(r.headers['x-end-to-end'], 'kept');
  for (const name of ['x-internal-hop', 'keep-alive', 'proxy-authenticate', 'trailer', 'upgrade', 'ratelimit-remaining', 'ratelimit-limit', 'retry-after']) {
    assert.equal(r.headers[name], undefined, name);
  }
  assert.notEqual(r.headers.connection, 'close, x-internal-hop');
  assert.equal(r.headers['x-ratelimit-remaining'], '4', 'the gateway\'s own count, not the upstream\'s');
  assert.doesNotMatch(String(r.headers.ratelimit), /999999/);
  // Connection: close from the upstream ends that upstream connection, not the client's.
  assert.equal((await send(gw.url, '/api/y')).status, 200);
});

test('an upstream answering with both Transfer-Encoding and Content-Length is refused, never relayed', async (t) => {
  const up = await rawUpstream((s) =>
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n'),
  );
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const r = await send(gw.url, '/api/x');
  assert.equal(r.status, 502);
  assert.deepEqual(r.json(), { error: 'bad_gateway' });
  assert.equal(r.headers['transfer-encoding'] === 'chunked' && r.headers['content-length'] !== undefined, false);
});

test('a flood of 1xx informational responses before the answer does not break the gateway', async (t) => {
  const up = await rawUpstream((s) => {
    s.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n'.repeat(50));
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone');
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  for (let i = 0; i < 3; i++) {
    const r = await send(gw.url, `/api/hints/${i}`);
    assert.equal(r.status, 200);
    assert.equal(r.text, 'done');
  }
  assert.equal((await send(gw.url, '/health')).status, 200);
});

test('a gzip bomb is passed through byte for byte, never decompressed', async (t) => {
  const zipped = gzipSync(Buffer.alloc(10 * 1024 * 1024), { level: 9 });
  assert.ok(zipped.length < 100 * 1024, 'a high compression ratio');
  const up = await startUpstream((_req, res) =>
    res.writeHead(200, { 'content-encoding': 'gzip', 'content-type': 'application/octet-stream', 'content-length': zipped.length }).end(zipped),
  );
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const r = await send(gw.url, '/api/bomb', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-encoding'], 'gzip');
  assert.ok(r.body.equals(zipped), `got ${r.body.length} bytes, sent ${zipped.length}`);
});
