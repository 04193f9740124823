import { constants, createHmac, createPublicKey, createSecretKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';

/** The JWS algorithms a verifier can be configured for; exactly one per verifier. */
export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';

/** What a verifier trusts: one algorithm, its key, and the claims it insists on. */
export interface JwtVerifierConfig {
  readonly algorithm: JwtAlgorithm;
  /** HS256: the shared secret (utf8). */
  readonly secret?: string;
  /** RS256 / ES256: a PEM public key (SPKI "BEGIN PUBLIC KEY", or RSA "BEGIN RSA PUBLIC KEY", or an X.509 certificate). */
  readonly publicKey?: string;
  /** When set, `iss` must equal it. */
  readonly issuer?: string;
  /** When set, `aud` (string or array) must contain it. */
  readonly audience?: string;
  /** Default 0; applied to exp and nbf. */
  readonly clockToleranceMs?: number;
}

/** Why a token was refused; stable strings, safe to log and to count. */
export type JwtFailure = 'malformed' | 'unsupported_algorithm' | 'bad_signature' | 'expired' | 'not_yet_valid' | 'bad_issuer' | 'bad_audience';

/** Verified claims, or the first reason the token was refused. */
export type JwtResult = { readonly ok: true; readonly claims: Readonly<Record<string, unknown>> } | { readonly ok: false; readonly reason: JwtFailure };

/** Verifies compact JWS tokens against one configured key; time is passed in. */
export interface JwtVerifier {
  verify(token: string, nowMs: number): JwtResult;
}

interface CacheEntry { readonly claims: Readonly<Record<string, unknown>>; readonly notBeforeMs: number; readonly expiresMs: number }

const MAX_TOKEN_LENGTH = 8192;
// Only holders of validly signed tokens can add entries, so clearing when full is enough of a bound.
const MAX_CACHE_ENTRIES = 10_000;
const ES256_SIGNATURE_BYTES = 64;
const HS256_SIGNATURE_BYTES = 32;

const fail = (reason: JwtFailure): JwtResult => ({ ok: false, reason });

/**
 * Builds a verifier for one algorithm and key. The key is parsed here, once,
 * so a misconfigured gateway fails at start-up rather than on every request.
 * @throws TypeError when the key material is missing or does not fit the algorithm.
 */
export function createJwtVerifier(config: JwtVerifierConfig): JwtVerifier {
  const { algorithm, issuer, audience } = config;
  const toleranceMs = config.clockToleranceMs ?? 0;
  if (!Number.isFinite(toleranceMs) || toleranceMs < 0) throw new TypeError('jwt: clockToleranceMs must be a non-negative number');
  const key = buildKey(config);
  const checkSignature = signatureCheck(algorithm, key);
  const cache = new Map<string, CacheEntry>();

  return {
    verify(token, nowMs) {
      const hit = cache.get(token);
      // Signature, iss and aud do not depend on time, so a hit only needs the time window re-checked.
      if (hit) return checkWindow(hit, nowMs) ?? { ok: true, claims: hit.claims };

      if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return fail('malformed');
      const parts = token.split('.');
      if (parts.length !== 3) return fail('malformed');
      const [headerBytes, payloadBytes, signature] = parts.map(decodeSegment);
      if (!headerBytes || !payloadBytes || !signature) return fail('malformed');
      const header = parseObject(headerBytes);
      // `crit` names extensions (e.g. unencoded payloads) that we would have to understand to verify correctly.
      if (!header || 'crit' in header) return fail('malformed');
      // The header is attacker-chosen: never let it pick the algorithm (alg none, HS256 keyed with an RSA public key).
      if (header.alg !== algorithm) return fail('unsupported_algorithm');
      if (!checkSignature(Buffer.from(token.slice(0, token.lastIndexOf('.')), 'ascii'), signature)) return fail('bad_signature');

      const claims = parseObject(payloadBytes);
      if (!claims) return fail('malformed');
      const entry = timeWindow(claims, toleranceMs);
      if (!entry) return fail('malformed');
      const outOfWindow = checkWindow(entry, nowMs);
      if (outOfWindow) return outOfWindow;
      if (issuer !== undefined && claims.iss !== issuer) return fail('bad_issuer');
      const { aud } = claims;
      if (audience !== undefined && aud !== audience && !(Array.isArray(aud) && aud.includes(audience))) return fail('bad_audience');

      if (cache.size >= MAX_CACHE_ENTRIES) cache.clear();
      cache.set(token, entry);
      return { ok: true, claims: entry.claims };
    },
  };
}

function buildKey(config: JwtVerifierConfig): KeyObject {
  if (config.algorithm === 'HS256') {
    if (typeof config.secret !== 'string' || config.secret.length === 0) throw new TypeError('jwt: HS256 needs a non-empty `secret`');
    return createSecretKey(Buffer.from(config.secret, 'utf8'));
  }
  if (config.algorithm !== 'RS256' && config.algorithm !== 'ES256') throw new TypeError(`jwt: unsupported algorithm ${String(config.algorithm)}; use HS256, RS256 or ES256`);
  const pem = config.publicKey;
  if (typeof pem !== 'string' || pem.length === 0) throw new TypeError(`jwt: ${config.algorithm} needs a PEM \`publicKey\``);
  // createPublicKey would quietly derive a public key from a private one; a private key has no place in gateway config.
  if (pem.includes('PRIVATE KEY')) throw new TypeError('jwt: `publicKey` holds a private key; give the public key or certificate');
  let key: KeyObject;
  try { key = createPublicKey(pem); } catch (cause) { throw new TypeError(`jwt: ${config.algorithm} \`publicKey\` is not a PEM public key or certificate`, { cause }); }
  const rsa = config.algorithm === 'RS256';
  // Checked here so that, say, an EC key under RS256 is a start-up error rather than every request failing.
  if (rsa ? key.asymmetricKeyType !== 'rsa' : key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const got = [key.asymmetricKeyType, key.asymmetricKeyDetails?.namedCurve].filter(Boolean).join(' ');
    throw new TypeError(`jwt: ${config.algorithm} needs ${rsa ? 'an RSA' : 'an EC P-256'} public key, got ${got}`);
  }
  return key;
}

function signatureCheck(algorithm: JwtAlgorithm, key: KeyObject): (data: Buffer, signature: Buffer) => boolean {
  switch (algorithm) {
    case 'HS256':
      // timingSafeEqual throws on a length mismatch, and the length is public anyway.
      return (data, signature) => signature.length === HS256_SIGNATURE_BYTES && timingSafeEqual(signature, createHmac('sha256', key).update(data).digest());
    case 'RS256':
      return (data, signature) => verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
    case 'ES256':
      // JWS carries r||s (RFC 7518 3.4); ieee-p1363 makes crypto refuse a DER signature rather than accept two encodings.
      return (data, signature) => signature.length === ES256_SIGNATURE_BYTES && verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  }
}

/** Strict base64url: re-encoding must give the same text, which rules out padding, stray characters and loose trailing bits. */
function decodeSegment(segment: string): Buffer | undefined {
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : undefined;
}

function parseObject(bytes: Buffer): Record<string, unknown> | undefined {
  let value: unknown;
  try { value = JSON.parse(bytes.toString('utf8')); } catch { return undefined; }
  return isObject(value) ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The validity window in ms with the tolerance applied, or undefined when exp/nbf are present but not numbers. */
function timeWindow(claims: Record<string, unknown>, toleranceMs: number): CacheEntry | undefined {
  const { exp, nbf } = claims;
  if (exp !== undefined && !(typeof exp === 'number' && Number.isFinite(exp))) return undefined;
  if (nbf !== undefined && !(typeof nbf === 'number' && Number.isFinite(nbf))) return undefined;
  return {
    claims: Object.freeze(claims),
    expiresMs: exp === undefined ? Infinity : exp * 1000 + toleranceMs,
    notBeforeMs: nbf === undefined ? -Infinity : nbf * 1000 - toleranceMs,
  };
}

// RFC 7519: now must be before exp and at or after nbf.
function checkWindow(entry: CacheEntry, nowMs: number): JwtResult | undefined {
  if (nowMs >= entry.expiresMs) return fail('expired');
  if (nowMs < entry.notBeforeMs) return fail('not_yet_valid');
  return undefined;
}

/**
 * The value of `claim` as a client key: strings as they are, finite numbers as
 * their decimal string, anything else (absent, object, array, boolean, empty
 * string) undefined. `claim` may be a dotted path ("org.id"); an own claim whose
 * name contains dots (e.g. a namespaced "https://example.com/tenant") wins first.
 */
export function claimValue(claims: Readonly<Record<string, unknown>>, claim: string): string | undefined {
  let value: unknown;
  if (Object.hasOwn(claims, claim)) {
    value = claims[claim];
  } else {
    value = claims;
    for (const step of claim.split('.')) {
      // Own properties only, so "constructor" or "__proto__" never reach Object.prototype.
      value = isObject(value) && Object.hasOwn(value, step) ? value[step] : undefined;
    }
  }
  if (typeof value === 'string') return value.length > 0 ? value : undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Extracts the token from an Authorization header value: "Bearer <token>" (scheme case-insensitive, one or more spaces); undefined otherwise. */
export function bearerToken(header: string | undefined): string | undefined {
  return typeof header === 'string' ? /^bearer +(\S+)$/i.exec(header)?.[1] : undefined;
}
