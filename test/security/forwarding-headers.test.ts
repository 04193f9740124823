import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { gatewayTrusting } from '../helpers/trust.js';
import { scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';
import { startEchoOrigin } from '../helpers/ws-origin.js';

// Forwarding headers as an attack surface: a client behind a trusted proxy
// that appends to X-Forwarded-For writes the left part of the chain itself,
// and X-Real-IP / Forwarded are whatever a client says unless the gateway owns them.

const MALFORMED = 'throttlegate_forwarded_for_malformed_total';


const via = (xff: string | string[], extra: Record<string, string> = {}) => ({ headers: { 'x-forwarded-for': xff, ...extra } });

test('junk an appending proxy passes on cannot buy fresh buckets: the client is the last valid hop', async (t) => {
  const { up, gw } = await gatewayTrusting('true', t);
  // The proxy (this test, on 127.0.0.1) appends the real client, 198.51.100.9, to whatever the client sent.
  const first = await send(gw.url, '/api/x', via('not-an-ip, 198.51.100.9'));
  assert.equal(first.status, 200);
  const seen = up.seen.at(-1)!.headers;
  assert.equal(seen['x-forwarded-for'], '198.51.100.9, 127.0.0.1', 'only the walked, valid chain goes upstream');
  assert.equal(seen['x-real-ip'], '198.51.100.9');
  const junk = ['999.1.1.1', 'x'.repeat(3000), '01.2.3.4', '1.2.3.4:5678', `random-${Math.random()}`];
  for (const entry of junk) {
    const res = await send(gw.url, '/api/x', via(`${entry}, 198.51.100.9`));
    assert.equal(res.status, 429, `${entry.slice(0, 20)}: same client, same (spent) bucket`);
  }
  assert.equal((await send(gw.url, '/api/x', via(['still-junk', '198.51.100.9']))).status, 429, 'two header lines are one chain');
  assert.equal((await send(gw.url, '/api/x', via('junk, 198.51.100.10'))).status, 200, 'another real client has its own bucket');
  assert.equal((await scrape(gw.url)).get(MALFORMED), junk.length + 3, 'every malformed chain is counted');
  const clients = gw.accessLines().filter((l) => l.route === '/api').map((l) => l.client);
  assert.ok(clients.every((c) => c === 'ip:198.51.100.9' || c === 'ip:198.51.100.10'), `no junk in the log: ${clients.join(' ').slice(0, 200)}`);
});

test('a chain that is junk from its first entry leaves the trusted peer as the client', async (t) => {
  const { up, gw } = await gatewayTrusting('1', t);
  assert.equal((await send(gw.url, '/api/x', via('not-an-ip'))).status, 200);
  assert.equal(up.seen.at(-1)!.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal((await send(gw.url, '/api/x', via('another-junk'))).status, 429, 'the peer, not the string, is the client');
  assert.equal((await scrape(gw.url)).get(MALFORMED), 2);
});

test('CIDR list: nothing left of a malformed entry is believed', async (t) => {
  const { up, gw } = await gatewayTrusting('[127.0.0.1/8, 10.0.0.0/8]', t);
  assert.equal((await send(gw.url, '/api/x', via('198.51.100.1, junk, 10.1.1.1'))).status, 200);
  assert.equal(up.seen.at(-1)!.headers['x-forwarded-for'], '10.1.1.1, 127.0.0.1');
  assert.equal((await send(gw.url, '/api/x', via('198.51.100.2, other-junk, 10.1.1.1'))).status, 429, 'the client is 10.1.1.1 both times');
  assert.equal((await send(gw.url, '/api/x', via('junk, 203.0.113.5, 10.1.1.1'))).status, 200, 'junk the walk never reaches changes nothing');
  assert.equal((await scrape(gw.url)).get(MALFORMED), 2, 'only entries the walk reached are counted');
});

test('spellings of one address are one client', async (t) => {
  const { gw } = await gatewayTrusting('true', t);
  assert.equal((await send(gw.url, '/api/x', via('198.51.100.1'))).status, 200);
  for (const spelling of ['::ffff:198.51.100.1', '::FFFF:C633:6401']) {
    assert.equal((await send(gw.url, '/api/x', via(spelling))).status, 429, spelling);
  }
});

test('X-Real-IP and Forwarded from a client are replaced and dropped', async (t) => {
  const { up, gw } = await gatewayTrusting('false', t);
  const spoof = { 'x-real-ip': '6.6.6.6', forwarded: 'for=6.6.6.6;proto=https' };
  assert.equal((await send(gw.url, '/api/x', via('6.6.6.6', spoof))).status, 200);
  const h = up.seen.at(-1)!.headers;
  assert.equal(h['x-real-ip'], '127.0.0.1', 'the client the gateway identified');
  assert.equal(h.forwarded, undefined);
  assert.equal(h['x-forwarded-for'], '127.0.0.1');
});

test('Forwarded from a trusted hop is dropped too; X-Real-IP is the walked client', async (t) => {
  const { up, gw } = await gatewayTrusting('[127.0.0.1]', t);
  await send(gw.url, '/api/x', via('203.0.113.5', { 'x-real-ip': '6.6.6.6', forwarded: 'for=6.6.6.6' }));
  const h = up.seen.at(-1)!.headers;
  assert.equal(h['x-real-ip'], '203.0.113.5');
  assert.equal(h.forwarded, undefined);
  assert.equal(h['x-forwarded-for'], '203.0.113.5, 127.0.0.1');
});

/** A WebSocket origin on 127.0.0.1:0 that records each handshake's headers. */
test('WebSocket handshakes get the same forwarding headers', async (t) => {
  const origin = await startEchoOrigin();
  const gw = await startGateway(`server: { trust_proxy: true }\nroutes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`, { headers: { 'x-forwarded-for': 'junk, 198.51.100.9', 'x-real-ip': '6.6.6.6', forwarded: 'for=6.6.6.6' } });
  t.after(() => ws.terminate());
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  // The client's 'open' can come before the origin's 'connection'.
  const h = await waitFor('the upstream handshake', () => origin.handshakes[0]?.headers, 10_000);
  assert.equal(h['x-forwarded-for'], '198.51.100.9, 127.0.0.1');
  assert.equal(h['x-real-ip'], '198.51.100.9');
  assert.equal(h.forwarded, undefined);
});
