import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { WebSocket, WebSocketServer } from 'ws';
import { buildGateway, parseConfig, type Gateway } from '../../src/index.js';
import { createLogger } from '../../src/observability/logging.js';
import { send } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';

// Resource exhaustion by reload: every SIGHUP builds a new config app, and a
// retired one must become garbage once its last request ends, or a gateway
// reloaded by a config-management loop grows until it is killed.

setFlagsFromString('--expose-gc');
// A fresh context sees the flag; this file runs in its own process (node --test).
const gc = runInNewContext('gc') as () => void;

const RELOADS = 300;
const WARM_UP = 20;

/** One origin for every route: 200 at once, `/slow` held until released, WebSocket echo. Records nothing (it would grow the heap measured). */
async function startOrigin() {
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url?.endsWith('/slow')) held.push(res);
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (socket) => socket.on('message', (data) => socket.send(`echo:${data.toString()}`)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held,
    close: () =>
      new Promise<void>((resolve) => {
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A single-target route and a pool with health checks (whose health a reload carries over), both limited. */
const yaml = (a: string, b: string, i: number) => `rate_limit: { requests_per_second: 100000, burst: ${100_000 + (i % 7)} }
routes:
  - path: /api
    upstream: ${a}
  - path: /pool
    upstream:
      targets: [ { url: ${a} }, { url: ${b} } ]
      health_check: { path: /healthz, interval: 1s, timeout: 500ms }
      passive: { eject_after: 3, eject_for: 1s }
`;

async function wsRoundTrip(port: number): Promise<string> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/api/ws`);
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const reply = new Promise<string>((resolve) => ws.once('message', (data) => resolve(data.toString())));
  ws.send('hi');
  const text = await reply;
  ws.close();
  await new Promise((resolve) => ws.once('close', resolve));
  return text;
}

function heapUsedMB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

/** Retired apps still alive, after full collections; WeakRefs say so regardless of heap noise. */
function alive(refs: WeakRef<object>[]): number {
  gc();
  return refs.filter((r) => r.deref() !== undefined).length;
}

/**
 * Closing a retired app waits for its pools' sockets: polls (a loaded machine
 * may take a while) until every one is collected or `withinMs` has passed, and
 * returns how many are left.
 */
async function settle(refs: WeakRef<object>[], withinMs: number): Promise<number> {
  let left = alive(refs);
  await waitFor('retired apps to be collected', () => (left = alive(refs)) === 0, withinMs, 50).catch(() => {});
  return left;
}

test(`${RELOADS} reloads with traffic between them: every retired app is collected, the heap returns to where it started`, { timeout: 120_000 }, async (t) => {
  const [origin, other] = await Promise.all([startOrigin(), startOrigin()]);
  const configOf = (i: number) => parseConfig(yaml(origin.url, other.url, i), 'reload.yaml', {});
  // A discarding logger: the test helpers' captured lines would themselves grow the heap.
  const logger = createLogger('info', new Writable({ write: (_chunk, _enc, done) => done() }));
  const gateway: Gateway = await buildGateway(configOf(0), { logger, port: 0, host: '127.0.0.1' });
  const url = await gateway.listen();
  const port = Number(new URL(url).port);
  t.after(() => Promise.all([gateway.close(), origin.close(), other.close()]));

  const retired: WeakRef<object>[] = [];
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
  const reload = async (i: number) => {
    retired.push(new WeakRef(gateway.app));
    await gateway.reload(configOf(i));
  };
  const step = async (i: number) => {
    if (i % 25 === 0) {
      // A request in flight across the reload: its app is retired while serving it, and closed once it ends.
      const slow = send(url, '/api/slow');
      await waitFor('the held request at the origin', () => origin.held.length > 0, 10_000, 5);
      await reload(i);
      origin.held.shift()?.writeHead(200).end('ok');
      count((await slow).status);
    } else {
      await reload(i);
    }
    count((await send(url, i % 2 === 0 ? '/api/x' : '/pool/y')).status);
    if (i % 10 === 0) count((await send(url, '/metrics')).status);
    if (i % 50 === 0) assert.equal(await wsRoundTrip(port), 'echo:hi');
  };

  for (let i = 0; i < WARM_UP; i++) await step(i);
  // Code compiled and caches filled by the first generations are not a leak: measure from here.
  await settle(retired, 5_000);
  const before = heapUsedMB();
  const warmUp = retired.length;

  const started = performance.now();
  for (let i = WARM_UP; i < WARM_UP + RELOADS; i++) await step(i);
  const elapsed = performance.now() - started;

  assert.deepEqual([...statuses.keys()], [200], `every request answered 200: ${JSON.stringify([...statuses])}`);
  assert.equal(retired.length, warmUp + RELOADS);
  const left = await settle(retired, 20_000);
  const after = heapUsedMB();
  const summary = `heap used ${before.toFixed(1)} MB -> ${after.toFixed(1)} MB after ${RELOADS} reloads (${(elapsed / RELOADS).toFixed(1)} ms each); ${left} of ${retired.length} retired apps still reachable`;
  t.diagnostic(summary);
  assert.ok(after - before < 10, summary);
  assert.equal(left, 0, summary);
  // The live app is the last one built, and it still serves.
  assert.equal((await send(url, '/api/x')).status, 200);
});
