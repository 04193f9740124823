import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { bearerToken, claimValue, createJwtVerifier, type JwtVerifierConfig } from '../../src/limit/jwt.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
const spki = (key: KeyObject): string => key.export({ type: 'spki', format: 'pem' }).toString();

const SECRET = 'a-shared-secret-for-tests';
const NOW = 1_700_000_000_000; // fixed instant, ms
const NOW_S = NOW / 1000;

const seg = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A compact token over raw header/payload segments, signed by `signer` over "header.payload". */
function compact(header: string, payload: string, signer: (input: Buffer) => Buffer): string {
  const input = `${header}.${payload}`;
  return `${input}.${signer(Buffer.from(input)).toString('base64url')}`;
}

const hmac = (secret: string | Buffer) => (input: Buffer) => createHmac('sha256', secret).update(input).digest();
const rsaSign = (input: Buffer) => sign('sha256', input, rsa.privateKey);
const ecSign = (input: Buffer) => sign('sha256', input, { key: ec.privateKey, dsaEncoding: 'ieee-p1363' });

const hs256 = (claims: unknown, secret = SECRET, header: object = { alg: 'HS256', typ: 'JWT' }) => compact(seg(header), seg(claims), hmac(secret));
const rs256 = (claims: unknown) => compact(seg({ alg: 'RS256', typ: 'JWT' }), seg(claims), rsaSign);
const es256 = (claims: unknown) => compact(seg({ alg: 'ES256' }), seg(claims), ecSign);

const hsVerifier = (extra: Partial<JwtVerifierConfig> = {}) => createJwtVerifier({ algorithm: 'HS256', secret: SECRET, ...extra });
const rsVerifier = () => createJwtVerifier({ algorithm: 'RS256', publicKey: spki(rsa.publicKey) });
const esVerifier = () => createJwtVerifier({ algorithm: 'ES256', publicKey: spki(ec.publicKey) });

const claims = { sub: 'client-42', exp: NOW_S + 60 };

test('valid HS256, RS256 and ES256 tokens verify and return their claims', () => {
  for (const [verifier, token] of [[hsVerifier(), hs256(claims)], [rsVerifier(), rs256(claims)], [esVerifier(), es256(claims)]] as const) {
    const result = verifier.verify(token, NOW);
    assert.equal(result.ok, true);
    assert.deepEqual(result.ok && result.claims, claims);
  }
});

test('an RSA public key in PKCS#1 form ("BEGIN RSA PUBLIC KEY") is accepted', () => {
  const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  assert.match(pkcs1, /BEGIN RSA PUBLIC KEY/);
  assert.equal(createJwtVerifier({ algorithm: 'RS256', publicKey: pkcs1 }).verify(rs256(claims), NOW).ok, true);
});

test('a tampered payload fails the signature check', () => {
  const forged = seg({ ...claims, sub: 'admin' });
  for (const [verifier, token] of [[hsVerifier(), hs256(claims)], [rsVerifier(), rs256(claims)], [esVerifier(), es256(claims)]] as const) {
    const [h, , s] = token.split('.');
    assert.deepEqual(verifier.verify(`${h}.${forged}.${s}`, NOW), { ok: false, reason: 'bad_signature' });
  }
});

test('a token signed with another secret is a bad signature', () => {
  assert.deepEqual(hsVerifier().verify(hs256(claims, 'not-the-secret'), NOW), { ok: false, reason: 'bad_signature' });
});

test('alg "none" is refused, with or without a signature', () => {
  const unsigned = `${seg({ alg: 'none' })}.${seg(claims)}.`;
  assert.deepEqual(hsVerifier().verify(unsigned, NOW), { ok: false, reason: 'unsupported_algorithm' });
  assert.deepEqual(rsVerifier().verify(unsigned, NOW), { ok: false, reason: 'unsupported_algorithm' });
  assert.deepEqual(hsVerifier().verify(hs256(claims, SECRET, { alg: 'none' }), NOW), { ok: false, reason: 'unsupported_algorithm' });
});

test('key confusion: HS256 keyed with the RSA public key PEM is refused by an RS256 verifier', () => {
  const confused = hs256(claims, spki(rsa.publicKey), { alg: 'HS256', typ: 'JWT' });
  assert.deepEqual(rsVerifier().verify(confused, NOW), { ok: false, reason: 'unsupported_algorithm' });
});

test('alg must match exactly: a correctly signed token naming another alg is refused', () => {
  assert.deepEqual(hsVerifier().verify(hs256(claims, SECRET, { alg: 'hs256' }), NOW), { ok: false, reason: 'unsupported_algorithm' });
  assert.deepEqual(hsVerifier().verify(hs256(claims, SECRET, { typ: 'JWT' }), NOW), { ok: false, reason: 'unsupported_algorithm' });
});

test('typ is ignored, but a crit header is refused', () => {
  assert.equal(hsVerifier().verify(hs256(claims, SECRET, { alg: 'HS256', typ: 'anything' }), NOW).ok, true);
  assert.deepEqual(hsVerifier().verify(hs256(claims, SECRET, { alg: 'HS256', crit: ['b64'], b64: false }), NOW), { ok: false, reason: 'malformed' });
});

test('ES256 refuses a DER-encoded signature over the same data', () => {
  const header = seg({ alg: 'ES256' });
  const payload = seg(claims);
  const input = Buffer.from(`${header}.${payload}`);
  const der = sign('sha256', input, ec.privateKey);
  assert.equal(verify('sha256', input, ec.publicKey, der), true, 'the DER signature is itself genuine');
  assert.deepEqual(esVerifier().verify(`${header}.${payload}.${der.toString('base64url')}`, NOW), { ok: false, reason: 'bad_signature' });
});

test('exp: refused at and after exp, accepted within the clock tolerance, and a non-number is malformed', () => {
  const token = hs256({ sub: 'a', exp: NOW_S });
  assert.deepEqual(hsVerifier().verify(token, NOW), { ok: false, reason: 'expired' });
  assert.equal(hsVerifier().verify(token, NOW - 1).ok, true);
  assert.equal(hsVerifier({ clockToleranceMs: 5000 }).verify(token, NOW + 4999).ok, true);
  assert.deepEqual(hsVerifier({ clockToleranceMs: 5000 }).verify(token, NOW + 5000), { ok: false, reason: 'expired' });
  assert.deepEqual(hsVerifier().verify(hs256({ sub: 'a', exp: String(NOW_S + 60) }), NOW), { ok: false, reason: 'malformed' });
  assert.equal(hsVerifier().verify(hs256({ sub: 'a' }), NOW).ok, true, 'no exp is accepted');
});

test('nbf: refused before nbf, accepted within the tolerance, and a non-number is malformed', () => {
  const token = hs256({ sub: 'a', nbf: NOW_S + 10 });
  assert.deepEqual(hsVerifier().verify(token, NOW), { ok: false, reason: 'not_yet_valid' });
  assert.equal(hsVerifier({ clockToleranceMs: 10_000 }).verify(token, NOW).ok, true);
  assert.equal(hsVerifier().verify(token, NOW + 10_000).ok, true, 'valid from nbf itself');
  assert.deepEqual(hsVerifier().verify(hs256({ sub: 'a', nbf: null }), NOW), { ok: false, reason: 'malformed' });
});

test('a badly signed, expired token is reported as a bad signature', () => {
  assert.deepEqual(hsVerifier().verify(hs256({ sub: 'a', exp: NOW_S - 3600 }, 'wrong'), NOW), { ok: false, reason: 'bad_signature' });
});

test('issuer must match exactly when configured', () => {
  const verifier = hsVerifier({ issuer: 'https://idp.example' });
  assert.equal(verifier.verify(hs256({ ...claims, iss: 'https://idp.example' }), NOW).ok, true);
  assert.deepEqual(verifier.verify(hs256({ ...claims, iss: 'https://evil.example' }), NOW), { ok: false, reason: 'bad_issuer' });
  assert.deepEqual(verifier.verify(hs256(claims), NOW), { ok: false, reason: 'bad_issuer' });
});

test('audience may be a string or an array that contains it', () => {
  const verifier = hsVerifier({ audience: 'gateway' });
  assert.equal(verifier.verify(hs256({ ...claims, aud: 'gateway' }), NOW).ok, true);
  assert.equal(verifier.verify(hs256({ ...claims, aud: ['billing', 'gateway'] }), NOW).ok, true);
  assert.deepEqual(verifier.verify(hs256({ ...claims, aud: ['billing'] }), NOW), { ok: false, reason: 'bad_audience' });
  assert.deepEqual(verifier.verify(hs256({ ...claims, aud: 'gateway-2' }), NOW), { ok: false, reason: 'bad_audience' });
  assert.deepEqual(verifier.verify(hs256(claims), NOW), { ok: false, reason: 'bad_audience' });
});

test('malformed tokens: wrong segment count, bad base64url, padding, non-object JSON, oversize', () => {
  const verifier = hsVerifier();
  const good = hs256(claims);
  const [h, p, s] = good.split('.') as [string, string, string];
  const cases: Record<string, string> = {
    'two segments': `${h}.${p}`,
    'four segments': `${good}.${s}`,
    'empty string': '',
    'standard base64 characters': `${h}.${p.slice(0, -1)}+.${s}`,
    'non-base64 character': `${h}.${p}.${s.slice(0, -1)}*`,
    'padding': `${h}.${p}.${s}=`,
    'header not JSON': `${Buffer.from('{alg').toString('base64url')}.${p}.${s}`,
    'header an array': compact(seg(['HS256']), p, hmac(SECRET)),
    'payload a string': compact(h, seg('client-42'), hmac(SECRET)),
    'payload null': compact(h, seg(null), hmac(SECRET)),
    'oversize': hs256({ sub: 'x'.repeat(9000) }),
  };
  for (const [name, token] of Object.entries(cases)) {
    assert.deepEqual(verifier.verify(token, NOW), { ok: false, reason: 'malformed' }, name);
  }
});

test('the cache of verified tokens still honours exp and nbf at the time passed in', () => {
  const verifier = hsVerifier();
  const token = hs256({ sub: 'a', nbf: NOW_S, exp: NOW_S + 60 });
  const first = verifier.verify(token, NOW);
  const second = verifier.verify(token, NOW + 1000);
  assert.ok(first.ok && second.ok);
  assert.equal(second.claims, first.claims, 'the second call is served from the cache');
  assert.deepEqual(verifier.verify(token, NOW + 60_000), { ok: false, reason: 'expired' });
  assert.deepEqual(verifier.verify(token, NOW - 1), { ok: false, reason: 'not_yet_valid' });
});

test('a refused token is not cached: it verifies once it becomes valid', () => {
  const verifier = hsVerifier();
  const token = hs256({ sub: 'a', nbf: NOW_S + 10 });
  assert.deepEqual(verifier.verify(token, NOW), { ok: false, reason: 'not_yet_valid' });
  assert.equal(verifier.verify(token, NOW + 10_000).ok, true);
});

test('unusable key material throws a TypeError when the verifier is built', () => {
  const cases: [JwtVerifierConfig, RegExp][] = [
    [{ algorithm: 'RS256', publicKey: spki(ec.publicKey) }, /RS256 needs an RSA public key, got ec/],
    [{ algorithm: 'HS256' }, /HS256 needs a non-empty `secret`/],
    [{ algorithm: 'HS256', secret: '' }, /HS256 needs a non-empty `secret`/],
    [{ algorithm: 'ES256', publicKey: spki(ec384.publicKey) }, /ES256 needs an EC P-256 public key, got ec secp384r1/],
    [{ algorithm: 'ES256', publicKey: spki(rsa.publicKey) }, /ES256 needs an EC P-256 public key, got rsa/],
    [{ algorithm: 'RS256' }, /RS256 needs a PEM `publicKey`/],
    [{ algorithm: 'RS256', publicKey: '-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----' }, /not a PEM public key/],
    [{ algorithm: 'RS256', publicKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, /holds a private key/],
    [{ algorithm: 'HS512' as 'HS256', secret: SECRET }, /unsupported algorithm HS512/],
    [{ algorithm: 'HS256', secret: SECRET, clockToleranceMs: -1 }, /clockToleranceMs/],
  ];
  for (const [config, message] of cases) {
    assert.throws(() => createJwtVerifier(config), (err: unknown) => err instanceof TypeError && message.test(err.message), message.source);
  }
});

test('claimValue: strings and finite numbers become keys, dotted paths walk objects, anything else is undefined', () => {
  const c = { sub: 'client-42', num: 7, big: 12.5, org: { id: 'acme', n: 3 }, 'https://example.com/tenant': 't1', empty: '', flag: true, list: ['a'], inf: null };
  assert.equal(claimValue(c, 'sub'), 'client-42');
  assert.equal(claimValue(c, 'num'), '7');
  assert.equal(claimValue(c, 'big'), '12.5');
  assert.equal(claimValue(c, 'org.id'), 'acme');
  assert.equal(claimValue(c, 'org.n'), '3');
  assert.equal(claimValue(c, 'https://example.com/tenant'), 't1');
  for (const missing of ['nope', 'org', 'org.nope', 'sub.length', 'empty', 'flag', 'list', 'list.0', 'inf', 'constructor', 'org.constructor', '__proto__']) {
    assert.equal(claimValue(c, missing), undefined, missing);
  }
});

test('bearerToken: "Bearer <token>", scheme case-insensitive, one or more spaces', () => {
  assert.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi');
  assert.equal(bearerToken('bearer abc'), 'abc');
  assert.equal(bearerToken('BEARER   abc'), 'abc');
  for (const header of [undefined, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearerabc', 'Bearer a b', 'Token abc', ' Bearer abc']) {
    assert.equal(bearerToken(header), undefined, String(header));
  }
});
