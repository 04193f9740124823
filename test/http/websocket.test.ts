import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml } from '../helpers/http.js';
import { parseConfig } from '../../src/index.js';
import { waitFor } from '../helpers/wait.js';
import { startEchoOrigin } from '../helpers/ws-origin.js';

function open(url: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`handshake answered ${res.statusCode}`), { status: res.statusCode, headers: res.headers })));
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) => ws.once('message', (data) => resolve(data.toString())));
}

test('WebSocket: echo through the gateway, to the route upstream and path, with forwarding headers', async (t) => {
  const origin = await startEchoOrigin();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  const ws = await open(`ws://127.0.0.1:${gw.port}/ws/chat?room=1`);
  for (const text of ['hello', 'second message']) {
    ws.send(text);
    assert.equal(await nextMessage(ws), `echo:${text}`);
  }
  ws.close();
  assert.equal(origin.handshakes.length, 1);
  const handshake = origin.handshakes[0]!;
  assert.equal(handshake.url, '/ws/chat?room=1');
  assert.equal(handshake.headers['x-forwarded-for'], '127.0.0.1');
  assert.match(String(handshake.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  // The line is written when the proxied socket closes, with the 101 the origin answered.
  const line = await waitFor('the /ws access line', () => gw.accessLines().find((l) => l.route === '/ws'));
  assert.equal(line.status, 101);
  assert.equal(line.upstream, origin.url);
});

test('WebSocket: the handshake is rate limited like any request; an open socket is not', async (t) => {
  const origin = await startEchoOrigin();
  const gw = await startGateway(`rate_limit: { requests_per_second: 0.001, burst: 1 }\nroutes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  const first = await open(`ws://127.0.0.1:${gw.port}/ws`, { 'x-api-key': 'ws-client' });
  await assert.rejects(open(`ws://127.0.0.1:${gw.port}/ws`, { 'x-api-key': 'ws-client' }), (err: { status?: number }) => err.status === 429);
  // The first socket keeps working though the client's bucket is empty.
  for (let i = 0; i < 5; i++) {
    first.send(`m${i}`);
    assert.equal(await nextMessage(first), `echo:m${i}`);
  }
  first.close();
  assert.equal(origin.handshakes.length, 1, 'the refused handshake never reached the origin');
});

test('WebSocket: an unrouted upgrade gets 404 and reaches no origin', async (t) => {
  const origin = await startEchoOrigin();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  await assert.rejects(open(`ws://127.0.0.1:${gw.port}/elsewhere`), (err: { status?: number }) => err.status === 404);
  assert.equal(origin.handshakes.length, 0);
});

test('WebSocket: an open socket survives a reload; new handshakes follow the new config', async (t) => {
  const before = await startEchoOrigin();
  const after = await startEchoOrigin();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/ws', upstream: before.url }])}`);
  t.after(() => Promise.all([gw.close(), before.close(), after.close()]));
  const held = await open(`ws://127.0.0.1:${gw.port}/ws`);
  await gw.gateway.reload(parseConfig(`routes:\n${routesYaml([{ path: '/ws', upstream: after.url }])}`, 'test.yaml', {}));
  held.send('still here');
  assert.equal(await nextMessage(held), 'echo:still here');
  const fresh = await open(`ws://127.0.0.1:${gw.port}/ws`);
  fresh.send('new');
  assert.equal(await nextMessage(fresh), 'echo:new');
  assert.equal(before.handshakes.length, 1);
  assert.equal(after.handshakes.length, 1, 'the handshake after the reload went to the new upstream');
  held.close();
  fresh.close();
});
