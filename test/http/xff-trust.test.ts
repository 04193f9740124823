import { test } from 'node:test';
import assert from 'node:assert/strict';
import { send } from '../helpers/http.js';
import { gatewayTrusting } from '../helpers/trust.js';


test('untrusted peer: X-Forwarded-For is ignored for the key and replaced upstream', async (t) => {
  const { up, gw } = await gatewayTrusting('false', t);
  assert.equal((await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '1.1.1.1' } })).status, 200);
  assert.equal(up.seen.at(-1)!.headers['x-forwarded-for'], '127.0.0.1', 'the forged chain is dropped');
  const spoof = await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '2.2.2.2' } });
  assert.equal(spoof.status, 429, 'a new forged address does not buy a new bucket');
});

test('trusted peer (CIDR list): walk from the right, skipping trusted hops', async (t) => {
  const { up, gw } = await gatewayTrusting('[127.0.0.1/8, 10.0.0.0/8]', t);
  const a = await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '9.9.9.9, 203.0.113.5, 10.1.1.1' } });
  assert.equal(a.status, 200);
  assert.equal(up.seen.at(-1)!.headers['x-forwarded-for'], '203.0.113.5, 10.1.1.1, 127.0.0.1', 'the untrusted left part is cut');
  const sameClient = await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '8.8.8.8, 203.0.113.5' } });
  assert.equal(sameClient.status, 429, 'the client is 203.0.113.5 whatever is left of it');
  const other = await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '203.0.113.6' } });
  assert.equal(other.status, 200);
});

test('trust_proxy: true takes the leftmost address', async (t) => {
  const { gw } = await gatewayTrusting('true', t);
  assert.equal((await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '198.51.100.1, 10.0.0.1' } })).status, 200);
  assert.equal((await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '198.51.100.1' } })).status, 429);
});

test('trust_proxy hop count trusts that many hops from the socket', async (t) => {
  const { up, gw } = await gatewayTrusting('1', t);
  await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' } });
  assert.equal(up.seen.at(-1)!.headers['x-forwarded-for'], '198.51.100.7, 127.0.0.1');
  assert.equal((await send(gw.url, '/api/x', { headers: { 'x-forwarded-for': '198.51.100.7' } })).status, 429);
});

test('X-Forwarded-Proto/Host from an untrusted client are not believed', async (t) => {
  const { up, gw } = await gatewayTrusting('false', t);
  await send(gw.url, '/api/x', { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', host: 'real.example' } });
  const h = up.seen.at(-1)!.headers;
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-forwarded-host'], 'real.example');
});
