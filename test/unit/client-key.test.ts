import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseConfig } from '../../src/config/load.js';
import { resolveClientKey, type ResolvedClient } from '../../src/admin/client-key.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

const sha = (v: string) => createHash('sha256').update(v).digest('hex');
const config = (extra: string, key = '[header:x-api-key, ip]') =>
  parseConfig(`${extra}\nrate_limit: { requests_per_second: 1, burst: 3, key: ${key} }\nroutes: [{ path: /api, upstream: http://127.0.0.1:8000 }]\n`, 't.yaml', {});
const ok = (r: ResolvedClient | { error: string }): ResolvedClient => {
  assert.ok(!('error' in r), JSON.stringify(r));
  return r;
};
const refused = (r: ResolvedClient | { error: string }): string => {
  assert.ok('error' in r, `expected a refusal, got ${JSON.stringify(r)}`);
  assert.match(r.error, /accepted forms: the API key as the client sends it; key:<12 hex>.*sha256:<64 hex>.*id:<api_keys id>.*ip:<address>.*jwt:<12 hex>/);
  return r.error;
};

test('without api_keys: the raw key, its log label and its sha256: form name one client, by its label; the state key only from the first two', () => {
  const c = config('', '[header:x-api-key, query:api_key, ip]');
  const d = sha('alice');
  const raw = ok(resolveClientKey('alice', c));
  assert.equal(raw.label, `key:${d.slice(0, 12)}`);
  assert.deepEqual(raw.stateKeys, [`h:x-api-key:${d.slice(0, 32)}`, `q:api_key:${d.slice(0, 32)}`], 'one per source, as the gateway keys each');
  assert.equal(raw.identity.key, `h:x-api-key:${d.slice(0, 32)}`);
  assert.equal(JSON.stringify(raw).includes('alice'), false, 'the raw key is nowhere in the answer');
  assert.deepEqual(ok(resolveClientKey(`sha256:${d}`, c)), raw);
  const label = ok(resolveClientKey(`key:${d.slice(0, 12)}`, c));
  assert.equal(label.label, raw.label);
  assert.equal(label.stateKeys, undefined, 'a digest prefix cannot be reversed');
});

test('with api_keys: a configured key, raw or sha256:, is its id:; an unknown one and an unknown id are refused', () => {
  const c = config(`plans: { pro: { limits: [ { requests_per_second: 1, burst: 9 } ] } }\napi_keys: [ { id: acme, hash: "${hashApiKey('secret-acme')}", plan: pro } ]`);
  for (const form of ['secret-acme', hashApiKey('secret-acme'), 'id:acme']) {
    const r = ok(resolveClientKey(form, c));
    assert.equal(r.label, 'id:acme', form);
    assert.deepEqual(r.stateKeys, ['id:acme']);
    assert.deepEqual([r.identity.keyId, r.identity.plan, r.identity.verified], ['acme', 'pro', true]);
  }
  assert.match(refused(resolveClientKey('alice', c)), /not in api_keys/);
  assert.match(refused(resolveClientKey(`key:${sha('alice').slice(0, 12)}`, c)), /keyed by its address/);
  assert.match(refused(resolveClientKey('id:nosuch', c)), /no api_keys entry has id "nosuch"/);
});

test('ip: as the gateway folds it: IPv4 as is, IPv4-mapped to IPv4, IPv6 to ipv6_subnet; a folded net of that length; nothing else', () => {
  const c = config('');
  assert.equal(ok(resolveClientKey('ip:10.0.0.7', c)).label, 'ip:10.0.0.7');
  assert.equal(ok(resolveClientKey('ip:::ffff:10.0.0.7', c)).label, 'ip:10.0.0.7');
  assert.equal(ok(resolveClientKey('ip:2001:db8:1:2:aaaa::1', c)).label, 'ip:2001:db8:1:2::/64');
  assert.equal(ok(resolveClientKey('ip:2001:db8:1:2::/64', c)).label, 'ip:2001:db8:1:2::/64');
  assert.deepEqual(ok(resolveClientKey('ip:10.0.0.7', c)).stateKeys, ['ip:10.0.0.7']);
  for (const bad of ['ip:10.0.0.300', 'ip:nope', 'ip:', 'ip:10.0.0.0/8', 'ip:2001:db8::/48', 'ip:0xa.0.0.7']) refused(resolveClientKey(bad, c));
});

test('forms no configured source can produce are refused: no jwt source, no header/query source, malformed labels', () => {
  const plain = config('');
  assert.match(refused(resolveClientKey(`jwt:${sha('u').slice(0, 12)}`, plain)), /no route keys clients by a jwt: source/);
  for (const bad of ['key:xyz', 'key:0123456789abc', 'sha256:abc', `jwt:sub:${'x'}`]) refused(resolveClientKey(bad, plain));
  const ipOnly = config('', '[ip]');
  assert.match(refused(resolveClientKey('alice', ipOnly)), /no route keys clients by a header: or query: source/);
  refused(resolveClientKey(`key:${sha('alice').slice(0, 12)}`, ipOnly));
  refused(resolveClientKey(`sha256:${sha('alice')}`, ipOnly));

  const jwt = config('jwt: { algorithm: HS256, secret: "0123456789abcdef0123" }', '[jwt:sub, ip]');
  const r = ok(resolveClientKey(`jwt:${sha('user-1').slice(0, 12)}`, jwt));
  assert.equal(r.label, `jwt:${sha('user-1').slice(0, 12)}`);
  assert.equal(r.identity.verified, true);
});
