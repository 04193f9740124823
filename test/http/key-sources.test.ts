import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { buildGateway, ConfigError, loadConfig, parseConfig } from '../../src/index.js';
import { hashApiKey } from '../../src/limit/api-keys.js';
import { createLogger } from '../../src/observability/logging.js';

type After = { after(fn: () => Promise<unknown>): void };
type Headers = Record<string, string>;

const SECRET = 'a-test-secret-of-32-characters!!';
const nowS = () => Math.floor(Date.now() / 1000);
const sha12 = (v: string) => createHash('sha256').update(v).digest('hex').slice(0, 12);
const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A compact JWS built by hand, so tests can forge exactly what an attacker would send. */
function jwt(claims: object, alg: 'HS256' | 'RS256' | 'ES256' | 'none', key: string | KeyObject = SECRET): string {
  const data = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`;
  let sig = Buffer.alloc(0);
  if (alg === 'HS256') sig = createHmac('sha256', key).update(data).digest();
  if (alg === 'RS256') sig = sign('sha256', Buffer.from(data), key as KeyObject);
  if (alg === 'ES256') sig = sign('sha256', Buffer.from(data), { key: key as KeyObject, dsaEncoding: 'ieee-p1363' });
  return `${data}.${sig.toString('base64url')}`;
}
const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });
const valid = (sub: string, extra: object = {}) => ({ sub, exp: nowS() + 3600, ...extra });

// A bucket that does not refill during a test (one token per 100 s): X-RateLimit-Remaining
// says which bucket a request drew from (4 = a fresh one, lower = one already used).
async function gatewayWith(t: After, top: string, route = '') {
  const up = await startUpstream();
  const gw = await startGateway(`${top}
routes:
${routesYaml([{ path: '/api', upstream: up.url, extra: route }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}
const limit = (key: string, more = '') => `rate_limit: { requests_per_second: 0.01, burst: 5, key: [${key}]${more} }`;
async function remaining(base: string, headers: Headers = {}, path = '/api/x'): Promise<number> {
  const res = await send(base, path, { headers });
  assert.equal(res.status, 200, res.text);
  return Number(res.headers['x-ratelimit-remaining']);
}

test('header source: each value is its own bucket, logged as a hash; no header falls back to the IP', async (t) => {
  const { gw } = await gatewayWith(t, limit('header:x-client, ip'));
  assert.equal(await remaining(gw.url, { 'x-client': 'alpha' }), 4);
  assert.equal(await remaining(gw.url, { 'x-client': 'alpha' }), 3, 'the same value shares its bucket');
  assert.equal(await remaining(gw.url, { 'x-client': 'beta' }), 4);
  assert.equal(await remaining(gw.url), 4, 'no header: the IP bucket, untouched by the keyed requests');
  assert.deepEqual(gw.accessLines().map((l) => l.client), [`key:${sha12('alpha')}`, `key:${sha12('alpha')}`, `key:${sha12('beta')}`, 'ip:127.0.0.1']);
});

test('query source keys by ?api_key=, and the query string is never logged', async (t) => {
  const { up, gw } = await gatewayWith(t, limit('query:api_key, ip'));
  assert.equal(await remaining(gw.url, {}, '/api/x?api_key=q-secret-1&page=2'), 4);
  assert.equal(await remaining(gw.url, {}, '/api/y?page=3&api_key=q-secret-1'), 3, 'same key, other path and order: same bucket');
  assert.equal(await remaining(gw.url, {}, '/api/x?api_key=q-secret-2'), 4);
  assert.equal(await remaining(gw.url, {}, '/api/x?page=1'), 4, 'no api_key: the IP bucket');
  assert.equal(up.seen[0]!.url, '/api/x?api_key=q-secret-1&page=2', 'the query still reaches the upstream');
  assert.deepEqual(gw.accessLines().map((l) => l.path), ['/api/x', '/api/y', '/api/x', '/api/x']);
  const everything = JSON.stringify(gw.logs);
  assert.ok(!everything.includes('q-secret') && !everything.includes('page='), 'no log line holds the query');
});

test('jwt:sub (HS256): a verified claim is the key, whichever token carries it', async (t) => {
  const { gw } = await gatewayWith(t, `jwt: { algorithm: HS256, secret: "${SECRET}" }\n${limit('jwt:sub, ip')}`);
  assert.equal(await remaining(gw.url, bearer(jwt(valid('user-1'), 'HS256'))), 4);
  assert.equal(await remaining(gw.url, bearer(jwt(valid('user-1', { jti: 'another token' }), 'HS256'))), 3, 'same sub, other token: one bucket');
  assert.equal(await remaining(gw.url, bearer(jwt(valid('user-2'), 'HS256'))), 4, 'another sub: another bucket');
  assert.equal(await remaining(gw.url), 4, 'anonymous: the IP bucket is apart from both');
  assert.deepEqual(gw.accessLines().map((l) => l.client).slice(0, 3), [`jwt:${sha12('user-1')}`, `jwt:${sha12('user-1')}`, `jwt:${sha12('user-2')}`]);
});

test('jwt: forged, expired and alg-none tokens select nothing, so the client falls to its IP bucket', async (t) => {
  const { gw } = await gatewayWith(t, `jwt: { algorithm: HS256, secret: "${SECRET}" }\n${limit('jwt:sub, ip')}`);
  assert.equal(await remaining(gw.url), 4, 'anonymous first: the IP bucket');
  assert.equal(await remaining(gw.url, bearer(jwt(valid('victim'), 'HS256', 'not-the-secret-at-all!!'))), 3, 'forged signature');
  assert.equal(await remaining(gw.url, bearer(jwt({ sub: 'victim', exp: nowS() - 60 }, 'HS256'))), 2, 'expired');
  assert.equal(await remaining(gw.url, bearer(jwt(valid('victim'), 'none'))), 1, 'alg none');
  assert.ok(gw.accessLines().every((l) => l.client === 'ip:127.0.0.1'));
  assert.equal(await remaining(gw.url, bearer(jwt(valid('victim'), 'HS256'))), 4, 'the genuine token still has its own bucket');
});

test('require_api_key with only a jwt source: no, forged, expired or alg-none token -> 401; a valid one passes', async (t) => {
  const { up, gw } = await gatewayWith(t, `jwt: { algorithm: HS256, secret: "${SECRET}" }\n${limit('jwt:sub')}`, 'require_api_key: true');
  const refused = [{}, bearer(jwt(valid('u'), 'HS256', 'forged-forged-forged!')), bearer(jwt({ sub: 'u', exp: nowS() - 1 }, 'HS256')), bearer(jwt(valid('u'), 'none'))];
  for (const headers of refused) {
    const res = await send(gw.url, '/api/x', { headers });
    assert.equal(res.status, 401);
    assert.deepEqual(res.json(), { error: 'invalid_api_key' });
  }
  assert.equal(up.seen.length, 0, 'no refused request reached the upstream');
  assert.equal((await send(gw.url, '/api/x', { headers: bearer(jwt(valid('u'), 'HS256')) })).status, 200);
  assert.deepEqual(gw.accessLines().map((l) => l.decision), ['invalid_api_key', 'invalid_api_key', 'invalid_api_key', 'invalid_api_key', 'allowed']);
});

test('jwt RS256 with an inline PEM: verified by the public key; another key and HS256-with-the-PEM are refused', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString().trimEnd();
  const { gw } = await gatewayWith(t, `jwt:
  algorithm: RS256
  public_key: |
${pem.replace(/^/gm, '    ')}
${limit('jwt:sub, ip')}`);
  assert.equal(await remaining(gw.url), 4, 'the IP bucket');
  assert.equal(await remaining(gw.url, bearer(jwt(valid('rsa-user'), 'RS256', privateKey))), 4, 'own bucket');
  assert.equal(await remaining(gw.url, bearer(jwt(valid('rsa-user'), 'RS256', privateKey))), 3);
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  assert.equal(await remaining(gw.url, bearer(jwt(valid('rsa-user'), 'RS256', stranger))), 3, 'signed by another key: the IP bucket');
  // Algorithm confusion: the public key (which anyone has) used as an HMAC secret.
  assert.equal(await remaining(gw.url, bearer(jwt(valid('rsa-user'), 'HS256', `${pem}\n`))), 2, 'HS256 keyed with the PEM: the IP bucket');
});

test('jwt ES256 with public_key_file next to a config file (loadConfig)', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const up = await startUpstream();
  const dir = mkdtempSync(join(tmpdir(), 'tg-jwt-'));
  writeFileSync(join(dir, 'es256.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'config.yaml'), `jwt: { algorithm: ES256, public_key_file: es256.pem }
${limit('jwt:sub, ip')}
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
  const gateway = await buildGateway(loadConfig(join(dir, 'config.yaml'), {}), { logger: createLogger('silent'), port: 0, host: '127.0.0.1' });
  const url = await gateway.listen();
  t.after(() => Promise.all([gateway.close(), up.close()]));
  assert.equal(await remaining(url), 4, 'the IP bucket');
  assert.equal(await remaining(url, bearer(jwt(valid('ec-user'), 'ES256', privateKey))), 4, 'own bucket');
  assert.equal(await remaining(url, bearer(jwt(valid('ec-user'), 'ES256', privateKey))), 3);
  const stranger = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  assert.equal(await remaining(url, bearer(jwt(valid('ec-user'), 'ES256', stranger))), 3, 'signed by another key: the IP bucket');
});

const v6 = (addr: string): Headers => ({ 'x-forwarded-for': addr });

test('IPv6 clients are grouped by /64: one host cannot rotate through its subnet', async (t) => {
  const { gw } = await gatewayWith(t, `server: { trust_proxy: true }\n${limit('ip')}`);
  assert.equal(await remaining(gw.url, v6('2001:db8:1:2::1')), 4);
  assert.equal(await remaining(gw.url, v6('2001:db8:1:2::ffff')), 3, 'same /64: same bucket');
  assert.equal(await remaining(gw.url, v6('2001:db8:1:3::1')), 4, 'next /64: another bucket');
  assert.deepEqual(gw.accessLines().map((l) => l.client), ['ip:2001:db8:1:2::/64', 'ip:2001:db8:1:2::/64', 'ip:2001:db8:1:3::/64']);
});

test('ipv6_subnet: 128 keys every IPv6 address apart', async (t) => {
  const { gw } = await gatewayWith(t, `server: { trust_proxy: true }\n${limit('ip', ', ipv6_subnet: 128')}`);
  assert.equal(await remaining(gw.url, v6('2001:db8:1:2::1')), 4);
  assert.equal(await remaining(gw.url, v6('2001:db8:1:2::ffff')), 4, 'same /64, another address: another bucket');
  assert.equal(await remaining(gw.url, v6('2001:db8:1:2::1')), 3);
  assert.deepEqual(gw.accessLines().map((l) => l.client), ['ip:2001:db8:1:2::1', 'ip:2001:db8:1:2::ffff', 'ip:2001:db8:1:2::1']);
});

// Regression: the first config was accepted, and the route then answered 401 to every client (no source
// after `ip` is ever read). A route with rate_limit: false identifies clients by the default policy's sources.
test('require_api_key on a route whose key sources can never carry a key or token is a config error', () => {
  const problemsOf = (yaml: string): string[] => {
    try {
      parseConfig(yaml, 'keys.yaml', {});
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems.map((p) => `${p.path}: ${p.message}`);
    }
    assert.fail('the config was accepted');
  };
  const routes = (extra: string) => `routes:\n${routesYaml([{ path: '/api', upstream: 'http://127.0.0.1:1', extra: `require_api_key: true\n${extra}` }])}`;
  assert.deepEqual(problemsOf(`api_keys: [ { id: a, hash: "${hashApiKey('k')}" } ]\n${limit('ip, header:x-api-key')}\n${routes('')}`), [
    'routes[0].require_api_key: no key source before ip can carry an API key (key: [ip, header:x-api-key]), so every request would get 401',
  ]);
  const unlimited = parseConfig(`jwt: { algorithm: HS256, secret: "${SECRET}" }\n${limit('jwt:sub')}\n${routes('rate_limit: false')}`, 'keys.yaml', {});
  assert.deepEqual(unlimited.routes[0]!.identity.key, [{ kind: 'jwt', claim: 'sub' }], 'an unlimited route reads the default policy\'s sources');
});
