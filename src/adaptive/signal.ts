import type { IncomingHttpHeaders } from 'node:http';
import type { LimitSet } from '../config/types.js';
import { normaliseIp } from '../limit/keys.js';
import type { RequestSignal } from './types.js';
import type { FirstSight } from './features.js';

/** What the gateway hands the feature table once a request has its answer. */
export interface FinishedRequest {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly refused: boolean;
  /** The request's raw header list (name, value, ...): read without building Node's headers object. */
  readonly rawHeaders: readonly string[];
  /** The client's network (networkOf its address). */
  readonly network: string;
  readonly clientKey: string;
  /** The limits the client was held to (its band's factor included), or undefined on an unlimited route. */
  readonly set: LimitSet | undefined;
}

export function signalOf(r: FinishedRequest): RequestSignal {
  // Node builds req.headers lazily, on first read: a scan of the raw list for four names costs less.
  let userAgent: string | undefined;
  let hasAccept = false;
  let hasAcceptLanguage = false;
  let bodyBytes = 0;
  const raw = r.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const n = name.length;
    if (n === 6 && name.toLowerCase() === 'accept') hasAccept = true;
    else if (n === 10 && userAgent === undefined && name.toLowerCase() === 'user-agent') userAgent = raw[i + 1];
    else if (n === 14 && name.toLowerCase() === 'content-length') bodyBytes = Number(raw[i + 1]);
    else if (n === 15 && name.toLowerCase() === 'accept-language') hasAcceptLanguage = true;
  }
  return {
    at: r.at,
    method: r.method,
    path: r.path,
    status: r.status,
    refused: r.refused,
    bodyBytes: Number.isFinite(bodyBytes) && bodyBytes > 0 ? bodyBytes : 0,
    userAgent,
    hasAccept,
    hasAcceptLanguage,
    network: r.network,
    clientKey: r.clientKey,
    limitRate: clientRate(r.set),
  };
}

/** Where a request's headers are read from: an IncomingMessage (its headers object is built only when read) or a plain object. */
export interface HeadSource {
  readonly headers: IncomingHttpHeaders;
}

/** What the request's head says, for a client the feature table has not seen yet. */
export function headOf(method: string, source: HeadSource, clientIp: string): FirstSight {
  const h = source.headers;
  return { method, userAgent: h['user-agent'], hasAccept: h.accept !== undefined, hasAcceptLanguage: h['accept-language'] !== undefined, network: networkOf(clientIp) };
}

/** `ip4:a.b.c.0/24` or `ip6:<prefix>/64`: key rotation is counted per network, since one host often holds a whole /64 and a botnet a /24. */
export function networkOf(ip: string): string {
  // normaliseIp collapses IPv4-mapped IPv6 to IPv4 and masks IPv6 to the /64, as the limits key clients.
  const address = normaliseIp(ip, 64);
  if (address.includes(':')) return `ip6:${address}`;
  const last = address.lastIndexOf('.');
  return last < 0 ? `ip4:${address}` : `ip4:${address.slice(0, last)}.0/24`;
}

/** The rate of the client's own first limit (requests per second), 0 when it has none. */
function clientRate(set: LimitSet | undefined): number {
  if (set === undefined) return 0;
  for (const limit of set.limits) if (limit.scope === 'client' && limit.algorithm !== 'concurrency') return limit.rate;
  return 0;
}
