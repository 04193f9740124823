import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import type { KeySource } from '../config/types.js';
import { DEAD_KEY, type ApiKeyLookup } from './api-keys.js';
import { sha256Hex } from './digest.js';
import { bearerToken, claimValue, type JwtVerifier } from './jwt.js';

/** Who a request is, for limiting: `key` is the state key, `label` is safe to log. */
export interface ClientIdentity {
  readonly key: string;
  readonly label: string;
  /** The api_keys id, when the request carried a configured key. */
  readonly keyId: string | null;
  readonly plan: string | null;
  /** A configured API key or a verified JWT identified the client (what require_api_key asks for). */
  readonly verified: boolean;
  /** The request carried a key the key store refuses (disabled, expired, revoked): gate.ts answers 401 on any limited route. */
  readonly deadKey?: true;
  /**
   * Only for a client identified by a key nothing verified (a header or query
   * value, no api_keys to check it against): its address's key (`ip:...`,
   * IPv6 folded to ipv6_subnet), under which the unverified-key envelope
   * counts every key that address presents (sets.ts).
   */
  readonly addressKey?: string;
}

/** What identification needs beyond the request. */
export interface IdentityContext {
  /** null: no api_keys configured and no key store, so a header or query value is the client key itself. */
  readonly apiKeys: ApiKeyLookup | null;
  readonly jwt: JwtVerifier | null;
  /** Epoch ms, for JWT expiry. */
  readonly now: number;
}

// Values longer than this are hashed, so a state key stays small however large the header.
const MAX_RAW_KEY_LENGTH = 64;

/**
 * The first source present identifies the client. Read from the request as
 * it arrived (before hop-by-hop stripping), so `Connection: x-api-key` cannot
 * move a client into a fresh bucket.
 * - With api_keys configured, a header or query value must be a configured
 *   key; an unknown one identifies nobody and the client is keyed by its
 *   address, so random keys cannot buy fresh buckets.
 * - Without api_keys, a header or query value is the key as sent: anyone can
 *   mint one, so the identity also names the address (`addressKey`), whose
 *   envelope bounds what all its keys together get.
 * - A JWT selects a key only when its signature and times verify; otherwise
 *   the next source is tried.
 */
export function identifyClient(
  req: IncomingMessage,
  query: string,
  sources: readonly KeySource[],
  clientIp: string,
  ipv6Subnet: number,
  context: IdentityContext,
): ClientIdentity {
  let params: URLSearchParams | undefined;
  for (const source of sources) {
    if (source.kind === 'ip') break;
    if (source.kind === 'jwt') {
      const token = bearerToken(headerValue(req, 'authorization'));
      if (token === undefined || context.jwt === null) continue;
      const result = context.jwt.verify(token, context.now);
      const value = result.ok ? claimValue(result.claims, source.claim) : undefined;
      if (value === undefined) continue;
      return { key: `jwt:${source.claim}:${compact(value)}`, label: `jwt:${sha256Hex(value).slice(0, 12)}`, keyId: null, plan: null, verified: true };
    }
    let value: string | undefined;
    if (source.kind === 'header') value = headerValue(req, source.name);
    else {
      params ??= new URLSearchParams(query);
      value = params.get(source.name) ?? undefined;
    }
    if (!value) continue;
    if (context.apiKeys === null) {
      // The key itself is never stored: a shared store's key names are readable by whoever can read the store.
      const digest = digestOf(value);
      // Anyone can mint keys: the address they come from is what a rotating client cannot change.
      return { key: unverifiedStateKey(source, digest), label: unverifiedLabel(digest), keyId: null, plan: null, verified: false, addressKey: `ip:${normaliseIp(clientIp, ipv6Subnet)}` };
    }
    const known = context.apiKeys.lookup(value, context.now);
    if (known === undefined) break;
    // Known and refused: keyed by its address like an unknown key, and refused at the gate whatever the route asks.
    if (known === DEAD_KEY) return { ...ipIdentity(clientIp, ipv6Subnet), deadKey: true };
    return { key: `id:${known.id}`, label: `id:${known.id}`, keyId: known.id, plan: known.plan, verified: true };
  }
  return ipIdentity(clientIp, ipv6Subnet);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const raw = req.headers[name];
  return Array.isArray(raw) ? raw.join(',') : raw;
}

const compact = (value: string): string => (value.length > MAX_RAW_KEY_LENGTH ? sha256Hex(value) : value);

export function ipIdentity(ip: string, ipv6Subnet = 64): ClientIdentity {
  const normalised = normaliseIp(ip, ipv6Subnet);
  return { key: `ip:${normalised}`, label: `ip:${normalised}`, keyId: null, plan: null, verified: false };
}

/**
 * IPv4-mapped IPv6 collapses to IPv4; IPv6 is masked to its /`subnet` (64 by
 * default), since one host usually holds a whole /64 and could otherwise
 * rotate through it.
 */
export function normaliseIp(ip: string, subnet = 64): string {
  if (!ip.includes(':')) return ip;
  if (ip.startsWith('::ffff:') && ip.includes('.')) return ip.slice(7);
  try {
    const bytes = ipaddr.IPv6.parse(ip).toByteArray();
    for (let i = 0; i < 16; i++) {
      const keep = Math.max(0, Math.min(8, subnet - i * 8));
      bytes[i] = (bytes[i] as number) & ((0xff << (8 - keep)) & 0xff);
    }
    const masked = ipaddr.fromByteArray(bytes).toString();
    return subnet >= 128 ? masked : `${masked}/${subnet}`;
  } catch {
    return ip;
  }
}

/** The state key of an unverified header or query key, from its SHA-256 hex: the admin API derives it the same way (admin/client-key.ts). */
export function unverifiedStateKey(source: { readonly kind: 'header' | 'query'; readonly name: string }, digest: string): string {
  return `${source.kind === 'header' ? 'h' : 'q'}:${source.name}:${digest.slice(0, 32)}`;
}

/** The label (log, overrides) of an unverified key, from its SHA-256 hex. */
export const unverifiedLabel = (digest: string): string => `key:${digest.slice(0, 12)}`;

/** What logs show for an API key not in api_keys: never the key itself. `throttlegate hash-key KEY` prints the same. */
export function hashKey(value: string): string {
  return unverifiedLabel(digestOf(value));
}

/** SHA-256 hex of a presented key, cached: a client sends the same key on every request. */
export function digestOf(value: string): string {
  let digest = digestCache.get(value);
  if (digest === undefined) {
    digest = sha256Hex(value);
    if (digestCache.size >= 10_000) digestCache.clear();
    digestCache.set(value, digest);
  }
  return digest;
}
const digestCache = new Map<string, string>();

