import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';
import { startEchoOrigin } from '../helpers/ws-origin.js';
import { createSecureServer } from '../helpers/tls.js';

// The gateway tunnels a WebSocket handshake to the upstream and answers the
// client with the upstream's own answer: 101 only once the upstream switched,
// otherwise the upstream's status, headers and body.

const HANDSHAKE = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Whether the gateway closed the connection (within the wait). */
  closed: boolean;
}

/** Sends `data` on a fresh socket; reads until the gateway closes it, or `waitMs` passes. */
function exchange(port: number, data: Buffer | string, waitMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const all = Buffer.concat(chunks);
      const end = all.indexOf('\r\n\r\n');
      const lines = all.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const rest = all.subarray(end + 4);
      resolve({ status: Number(lines[0]?.split(' ')[1]), headers, body: headers['transfer-encoding'] === 'chunked' ? unchunk(rest) : rest, closed });
    };
    const timer = setTimeout(done, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => (closed = true));
    socket.on('close', done);
    socket.on('error', () => {});
    socket.write(data);
  });
}

/** A chunked body's data (RFC 9112 section 7.1), without trailers. */
function unchunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; ; ) {
    const eol = bytes.indexOf('\r\n', at);
    const size = parseInt(bytes.subarray(at, eol).toString('latin1'), 16);
    if (!(size > 0)) return Buffer.concat(parts);
    parts.push(bytes.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * An origin that refuses every handshake with `status`, a header of its own
 * and a body, sized or chunked (no 'upgrade' listener: Node serves it as a request).
 */
async function startRefusingOrigin(status: number, body: string, chunked = false) {
  const seen: Record<string, string | string[] | undefined>[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    const length: Record<string, number> = chunked ? {} : { 'content-length': Buffer.byteLength(body) };
    res.writeHead(status, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="ws"', 'x-origin': 'yes', ...length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

for (const [status, body, chunked] of [
  [401, 'token expired', false],
  [403, 'not your room', false],
  [503, 'origin overloaded', true],
] as const) {
  test(`WebSocket tunnel: an upstream refusing the handshake with ${status} -> the client gets ${status}, its headers and body, never 101`, async (t) => {
    const origin = await startRefusingOrigin(status, body, chunked);
    const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
    t.after(() => Promise.all([gw.close(), origin.close()]));
    const answer = await exchange(gw.port, `GET /ws/room?id=7 HTTP/1.1\r\nHost: a\r\n${HANDSHAKE}\r\n`);
    assert.equal(answer.status, status);
    assert.equal(answer.body.toString(), body);
    assert.equal(answer.headers['x-origin'], 'yes');
    assert.equal(answer.headers['www-authenticate'], 'Bearer realm="ws"');
    assert.equal(answer.headers.connection, 'close');
    assert.equal(answer.closed, true, 'the gateway closes the connection after a refused handshake');
    // The origin saw the client's handshake, as sent.
    assert.equal(origin.seen.length, 1);
    assert.equal(origin.seen[0]!['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
    assert.equal(origin.seen[0]!.upgrade, 'websocket');
    const line = await waitFor('the /ws access line', () => gw.accessLines().find((l) => l.route === '/ws'));
    assert.equal(line.status, status);
  });
}

test('WebSocket tunnel: a ws client sees the upstream refusal as unexpected-response with its status', async (t) => {
  const origin = await startRefusingOrigin(401, 'who are you');
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`);
  t.after(() => ws.terminate());
  const outcome = await new Promise<string>((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(`${res.statusCode}:${Buffer.concat(chunks).toString()}`));
    });
    ws.once('error', (err) => resolve(`error:${err.message}`));
  });
  assert.equal(outcome, '401:who are you');
});

test('WebSocket tunnel: an unreachable upstream -> 502 from the catalogue, counted as an upstream error', async (t) => {
  // A port that was just free: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: `http://127.0.0.1:${port}` }])}`);
  t.after(() => gw.close());
  const answer = await exchange(gw.port, `GET /ws HTTP/1.1\r\nHost: a\r\n${HANDSHAKE}\r\n`);
  assert.equal(answer.status, 502);
  assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
  assert.deepEqual(JSON.parse(answer.body.toString()), { error: 'bad_gateway' });
  assert.equal(answer.closed, true);
  const line = await waitFor('the /ws access line', () => gw.accessLines().find((l) => l.route === '/ws'));
  assert.equal(line.status, 502);
  assert.equal(line.upstream_error, 'refused');
  const metrics = await (await fetch(`${gw.url}/metrics`)).text();
  assert.match(metrics, /throttlegate_upstream_errors_total\{[^}]*reason="refused"[^}]*\} 1/);
});

test('WebSocket tunnel: binary and text frames pass untouched; subprotocol and extension are the upstream\'s choice', async (t) => {
  const server = createServer((_req, res) => res.writeHead(426).end());
  // The upstream picks the client's second subprotocol and accepts compression: only a tunnel passes both on.
  const wss = new WebSocketServer({ server, perMessageDeflate: true, handleProtocols: (offered) => (offered.has('chat.v2') ? 'chat.v2' : false) });
  wss.on('connection', (socket) => socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const originUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: originUrl }])}`);
  t.after(async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await gw.close();
  });
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`, ['chat.v1', 'chat.v2']);
  t.after(() => ws.terminate());
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  assert.equal(ws.protocol, 'chat.v2');
  assert.match(ws.extensions, /permessage-deflate/);
  const next = () => new Promise<{ data: Buffer; isBinary: boolean }>((resolve) => ws.once('message', (data, isBinary) => resolve({ data: data as Buffer, isBinary })));
  const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  ws.send(bytes);
  const binary = await next();
  assert.equal(binary.isBinary, true);
  assert.deepEqual(binary.data, bytes);
  ws.send('héllo wörld');
  const text = await next();
  assert.equal(text.isBinary, false);
  assert.equal(text.data.toString(), 'héllo wörld');
  ws.close();
});

test('WebSocket tunnel: a frame sent in the same packet as the handshake reaches the upstream', async (t) => {
  const origin = await startEchoOrigin();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  // A masked text frame "hi" (RFC 6455 section 5.2), right behind the head.
  const mask = Buffer.from([1, 2, 3, 4]);
  const frame = Buffer.from([0x81, 0x80 | 2, ...mask, 'h'.charCodeAt(0) ^ 1, 'i'.charCodeAt(0) ^ 2]);
  const answer = await exchange(gw.port, Buffer.concat([Buffer.from(`GET /ws HTTP/1.1\r\nHost: a\r\n${HANDSHAKE}\r\n`), frame]), 1500);
  assert.equal(answer.status, 101);
  assert.equal(answer.headers['sec-websocket-accept'], 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  // The origin's unmasked text frame "echo:hi".
  assert.deepEqual(answer.body, Buffer.concat([Buffer.from([0x81, 7]), Buffer.from('echo:hi')]));
});

test('WebSocket tunnel: the limit still refuses a handshake with 429 from the catalogue, and the origin never sees it', async (t) => {
  const origin = await startEchoOrigin();
  const gw = await startGateway(`rate_limit: { requests_per_second: 0.001, burst: 1 }\nroutes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  const first = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`);
  t.after(() => first.terminate());
  await new Promise((resolve, reject) => first.once('open', resolve).once('error', reject));
  const answer = await exchange(gw.port, `GET /ws HTTP/1.1\r\nHost: a\r\n${HANDSHAKE}\r\n`);
  assert.equal(answer.status, 429);
  assert.equal(JSON.parse(answer.body.toString()).error, 'rate_limited');
  assert.ok(answer.headers['retry-after'] !== undefined);
  assert.equal(answer.closed, true);
  assert.equal(origin.handshakes.length, 1);
});

/** An origin that accepts connections and never answers; it reports each connection's close. */
async function startSilentOrigin() {
  const sockets: Socket[] = [];
  let closedCount = 0;
  const server = createNetServer((socket) => {
    sockets.push(socket);
    // Read (and drop) the handshake: only a socket that reads sees its peer close.
    socket.resume();
    socket.on('error', () => {});
    socket.on('close', () => closedCount++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => sockets.length,
    closed: () => closedCount,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

test('WebSocket tunnel: an upstream that does not answer the handshake within timeout_ms -> 504 from the catalogue', async (t) => {
  const origin = await startSilentOrigin();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: origin.url, extra: 'timeout_ms: 300' }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  const answer = await exchange(gw.port, `GET /ws HTTP/1.1\r\nHost: a\r\n${HANDSHAKE}\r\n`);
  assert.equal(answer.status, 504);
  assert.deepEqual(JSON.parse(answer.body.toString()), { error: 'gateway_timeout' });
  const line = await waitFor('the /ws access line', () => gw.accessLines().find((l) => l.route === '/ws'));
  assert.equal(line.status, 504);
  assert.equal(line.upstream_error, 'timeout');
  await waitFor('the upstream connection closed', () => origin.closed() === 1);
});

test('WebSocket tunnel: a client that leaves before the upstream answered is logged 499 and its upstream connection closed', async (t) => {
  const origin = await startSilentOrigin();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  const socket = connect(gw.port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write(`GET /ws HTTP/1.1\r\nHost: a\r\n${HANDSHAKE}\r\n`);
  await waitFor('the upstream connection', () => origin.connections() === 1, 5000);
  socket.destroy();
  const line = await waitFor('the /ws access line', () => gw.accessLines().find((l) => l.route === '/ws'));
  assert.equal(line.status, 499);
  await waitFor('the upstream connection closed', () => origin.closed() === 1);
});

test('WebSocket tunnel: an https upstream is reached over TLS, its certificate checked unless tls_verify: false', async (t) => {
  const tls = await createSecureServer();
  if (tls === undefined) return t.skip('openssl is not available');
  const gw = await startGateway(`routes:\n${routesYaml([
    { path: '/strict', upstream: tls.url },
    { path: '/lax', upstream: tls.url, extra: 'tls_verify: false' },
  ])}`);
  t.after(() => Promise.all([gw.close(), tls.close()]));
  const strict = await exchange(gw.port, `GET /strict HTTP/1.1\r\nHost: a\r\n${HANDSHAKE}\r\n`);
  assert.equal(strict.status, 502);
  const line = await waitFor('the /strict access line', () => gw.accessLines().find((l) => l.route === '/strict'));
  assert.equal(line.upstream_error, 'tls');
  // This origin serves every request with 200 "secure": the handshake's answer, passed on.
  const lax = await exchange(gw.port, `GET /lax HTTP/1.1\r\nHost: a\r\n${HANDSHAKE}\r\n`);
  assert.equal(lax.status, 200);
  assert.equal(lax.body.toString(), 'secure');
});
