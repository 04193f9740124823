import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { connectionsCheckingIntervalMs } from '../../src/gateway/listener.js';

// Slowloris and slow POST: a client that trickles its request must lose its
// socket at its deadline (headers_timeout_ms, request_timeout_ms), not when
// Node next happens to look (every 30 s unless told otherwise).

const HEADERS_MS = 1000;
const REQUEST_MS = 2000;
// Generous for a loaded machine; the old behaviour closed at about 30 s.
const LATE_MS = 3000;

async function setup(t: { after(fn: () => Promise<unknown>): void }, server = `{ headers_timeout_ms: ${HEADERS_MS}, request_timeout_ms: ${REQUEST_MS} }`) {
  const up = await startUpstream();
  const gw = await startGateway(`server: ${server}\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

interface Trickled {
  /** From the first byte sent to the gateway closing (or ending) the socket. */
  elapsedMs: number;
  /** What the gateway wrote before closing. */
  answer: string;
}

/** Sends `first`, then one `drip` every `everyMs`, until the gateway closes the socket or `giveUpMs` passes. */
function trickle(port: number, first: string, drip: string, everyMs: number, giveUpMs: number): Promise<Trickled> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    let answer = '';
    let start = 0;
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ elapsedMs: performance.now() - start, answer });
    };
    const giveUp = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error(`the gateway still held the socket after ${giveUpMs} ms; it wrote ${JSON.stringify(answer)}`));
    }, giveUpMs);
    socket.on('connect', () => {
      start = performance.now();
      socket.write(first);
      timer = setInterval(() => socket.write(drip), everyMs);
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', () => {}); // a write after the gateway closed: 'close' follows
  });
}

function assertCutAtDeadline(r: Trickled, deadlineMs: number): void {
  assert.ok(r.elapsedMs >= deadlineMs - 10, `cut after ${Math.round(r.elapsedMs)} ms, before its ${deadlineMs} ms deadline`);
  assert.ok(r.elapsedMs <= deadlineMs + LATE_MS, `cut after ${Math.round(r.elapsedMs)} ms, long past its ${deadlineMs} ms deadline`);
  if (r.answer !== '') {
    assert.match(r.answer, /^HTTP\/1\.1 408 /);
    assert.ok(r.answer.endsWith('{"error":"request_timeout"}'), r.answer);
  }
}

test('slowloris: headers trickled a field at a time are cut at headers_timeout_ms, not 30 s later', async (t) => {
  const { up, gw } = await setup(t);
  const r = await trickle(gw.port, 'GET /api/x HTTP/1.1\r\nHost: a\r\n', 'x-slow: 1\r\n', 100, HEADERS_MS + LATE_MS + 1000);
  assertCutAtDeadline(r, HEADERS_MS);
  assert.equal(up.seen.length, 0, 'nothing reached the upstream');
});

test('slow POST: a body sent one byte a second is cut at request_timeout_ms, not 30 s later', async (t) => {
  const { gw } = await setup(t);
  const r = await trickle(gw.port, 'POST /api/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n', 'x', 1000, REQUEST_MS + LATE_MS + 1000);
  assertCutAtDeadline(r, REQUEST_MS);
  assert.equal((await send(gw.url, '/api/after')).status, 200, 'the gateway serves the next client');
});

/** `count` connections that never send a byte. */
async function silentConnections(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from({ length: count }, () => new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve());
      s.on('error', reject);
      sockets.push(s);
    })),
  );
  return sockets;
}

test('500 idle connections do not stop a normal request from being served', async (t) => {
  // The default timeouts: the idle sockets stay open while the request is made.
  const { gw } = await setup(t, '{}');
  const idle = await silentConnections(gw.port, 500);
  t.after(() => idle.forEach((s) => s.destroy()));
  const r = await send(gw.url, '/api/x');
  assert.equal(r.status, 200);
  assert.equal(r.json<{ url: string }>().url, '/api/x');
  idle.forEach((s) => s.destroy());
});

test('a draining gateway still cuts silent and trickling connections at headers_timeout_ms', async (t) => {
  const { gw } = await setup(t);
  const silent = await silentConnections(gw.port, 50);
  const slow = connect(gw.port, '127.0.0.1');
  slow.on('error', () => {});
  slow.write('GET /api/x HTTP/1.1\r\nHost: a\r\n');
  const drip = setInterval(() => slow.write('x-slow: 1\r\n'), 100);
  const start = performance.now();
  // Node stops its timeout check once the server closes: without a deadline of its own, this close never ends.
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    gw.close().then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), HEADERS_MS + LATE_MS))),
  ]);
  clearTimeout(timer);
  // Before asserting, so a failure still lets the gateway close.
  clearInterval(drip);
  for (const socket of [...silent, slow]) socket.destroy();
  assert.ok(closed, `close() still waiting after ${HEADERS_MS + LATE_MS} ms`);
  assert.ok(performance.now() - start >= HEADERS_MS - 10, 'a connection was cut before its deadline');
});

test('the timeout check runs often enough to cut within a second, and never busier than needed', () => {
  assert.equal(connectionsCheckingIntervalMs({ headersTimeoutMs: 1000, requestTimeoutMs: 2000 }), 250);
  assert.equal(connectionsCheckingIntervalMs({ headersTimeoutMs: 10_000, requestTimeoutMs: 60_000 }), 1000, 'the defaults: at most a second');
  assert.ok(connectionsCheckingIntervalMs({ headersTimeoutMs: 1, requestTimeoutMs: 1 }) >= 10, 'a tiny timeout never makes a busy loop');
});
