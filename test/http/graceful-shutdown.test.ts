import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream } from '../helpers/upstream.js';
import { routesYaml, send } from '../helpers/http.js';
import { serve, writeConfig } from '../helpers/cli.js';
import { startGateway } from '../helpers/gateway.js';
import { connect } from 'node:net';

test('SIGTERM lets the in-flight request finish, then exits 0 and stops listening', async (t) => {
  let answer: () => void = () => {};
  const up = await startUpstream((_req, res) => {
    answer = () => res.writeHead(200).end('finished after SIGTERM');
  });
  t.after(() => up.close());
  const gw = await serve(writeConfig(`server: { shutdown_grace_ms: 5000 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`));
  t.after(() => gw.child.kill('SIGKILL'));

  const inFlight = send(gw.url, '/api/slow');
  while (up.seen.length === 0) await sleep(5); // the upstream has the request
  gw.child.kill('SIGTERM');
  await sleep(200); // the gateway is now draining
  answer();
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.equal(res.text, 'finished after SIGTERM');
  assert.equal(await gw.exited, 0);
  await assert.rejects(send(gw.url, '/health'), /ECONNREFUSED/);
  assert.match(gw.output(), /shutdown complete/);
});

test('a request still running when the grace period ends is cut, and the process still exits 0', async (t) => {
  const up = await startUpstream(() => {}); // never answers
  t.after(() => up.close());
  const gw = await serve(writeConfig(`server: { shutdown_grace_ms: 300 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`));
  t.after(() => gw.child.kill('SIGKILL'));
  const inFlight = send(gw.url, '/api/hang').catch((err: Error) => err);
  while (up.seen.length === 0) await sleep(5);
  const started = Date.now();
  gw.child.kill('SIGTERM');
  assert.equal(await gw.exited, 0);
  assert.ok(Date.now() - started < 3000, 'bounded by the grace period');
  assert.ok((await inFlight) instanceof Error);
});

test('while draining, a request that arrives on an open connection gets 503 shutting_down and Connection: close', async (t) => {
  let answer: () => void = () => {};
  const up = await startUpstream((req, res) => {
    if (req.url === '/api/slow') answer = () => res.writeHead(200).end('slow done');
    else res.writeHead(200).end('late');
  });
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => up.close());
  // One connection, two pipelined requests: the second is read only after the first, in flight during the drain, ends.
  const socket = connect(gw.port, '127.0.0.1');
  let received = '';
  socket.on('data', (c: Buffer) => (received += c.toString()));
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write('GET /api/slow HTTP/1.1\r\nHost: gw.test\r\n\r\n');
  while (!up.seen.some((s) => s.url === '/api/slow')) await sleep(5);
  const closed = gw.close();
  socket.write('GET /api/late HTTP/1.1\r\nHost: gw.test\r\n\r\n');
  await sleep(50);
  answer();
  await ended;
  await closed;
  const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
  assert.match(first ?? '', /^HTTP\/1\.1 200/, 'the in-flight request finished');
  assert.match(first ?? '', /slow done/);
  assert.match(second ?? '', /^HTTP\/1\.1 503/);
  assert.match(second ?? '', /\r\nconnection: close\r\n/i);
  assert.match(second ?? '', /\{"error":"shutting_down"\}$/);
  assert.ok(!up.seen.some((s) => s.url === '/api/late'), 'nothing forwarded while draining');
});
