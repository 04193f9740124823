import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import ipaddr from 'ipaddr.js';
import type { KeySource } from '../config/types.js';

/** Who a request is, for limiting: `key` is the bucket id, `label` is safe to log. */
export interface ClientIdentity {
  readonly key: string;
  readonly label: string;
}

// Header values longer than this are hashed, so a bucket key stays small however large the header.
const MAX_RAW_KEY_LENGTH = 64;

/**
 * The first source present identifies the client. Read from the request as it
 * arrived (before hop-by-hop stripping), so `Connection: x-api-key` cannot
 * move a client into a fresh bucket.
 */
export function identifyClient(req: IncomingMessage, sources: readonly KeySource[], clientIp: string): ClientIdentity {
  for (const source of sources) {
    if (source.kind === 'ip') return ipIdentity(clientIp);
    const raw = req.headers[source.name];
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    if (value) {
      const compact = value.length > MAX_RAW_KEY_LENGTH ? sha256(value) : value;
      return { key: `h:${source.name}:${compact}`, label: hashKey(value) };
    }
  }
  return ipIdentity(clientIp);
}

function ipIdentity(ip: string): ClientIdentity {
  const normalised = normaliseIp(ip);
  return { key: `ip:${normalised}`, label: `ip:${normalised}` };
}

/**
 * IPv4-mapped IPv6 collapses to IPv4; IPv6 is masked to its /64, since one
 * host usually holds a whole /64 and could otherwise rotate through it.
 */
export function normaliseIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  if (ip.startsWith('::ffff:') && ip.includes('.')) return ip.slice(7);
  try {
    const parts = ipaddr.IPv6.parse(ip).parts;
    return ipaddr.IPv6.parse(`${parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::`).toString() + '/64';
  } catch {
    return ip;
  }
}

/** What logs show for an API key: never the key itself. `throttlegate hash-key KEY` prints the same. */
export function hashKey(value: string): string {
  let label = labelCache.get(value);
  if (label === undefined) {
    label = `key:${sha256(value).slice(0, 12)}`;
    if (labelCache.size >= 10_000) labelCache.clear();
    labelCache.set(value, label);
  }
  return label;
}
const labelCache = new Map<string, string>();

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
