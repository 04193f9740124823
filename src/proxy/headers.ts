import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ALL_LIMIT_HEADERS } from '../limit/headers.js';

/**
 * Hop-by-hop fields (RFC 9110 section 7.6.1) that reply-from does not already
 * drop. reply-from removes `Connection`, the fields it lists and
 * `Transfer-Encoding` from requests before our rewrite runs, which is why
 * the X-Forwarded-* fields set here cannot be removed by a client.
 */
const HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'upgrade', 'trailer', 'proxy-authorization', 'proxy-authenticate'];

type Headers = Record<string, string | string[] | number | undefined>;

/** Headers sent upstream: hop-by-hop removed, forwarding fields set by the gateway alone. */
export function upstreamRequestHeaders(request: FastifyRequest, headers: Headers): Headers {
  for (const name of HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
  // TE is hop-by-hop; only "trailers" may be passed on (and undici refuses anything else).
  if (headers.te !== undefined && headers.te !== 'trailers') delete headers.te;
  // Node's server has already answered `100 Continue` (the body is streaming
  // to us); the expectation was the client's of this hop, and undici refuses it.
  if (headers.expect !== undefined) delete headers.expect;
  return setForwardingHeaders(request, headers);
}

/**
 * The fields only the gateway sets: the client's copies, if any, are
 * overwritten. X-Real-IP is the client the gateway identified (after
 * trust_proxy). `Forwarded` (RFC 7239) is dropped whoever sent it, a trusted
 * hop included: the gateway neither checks nor writes one, and an origin that
 * read a passed-on copy would believe whatever address a client put there.
 */
function setForwardingHeaders(request: FastifyRequest, headers: Headers): Headers {
  headers['x-forwarded-for'] = request.gateway.forwardedFor;
  headers['x-forwarded-proto'] = request.protocol;
  headers['x-forwarded-host'] = request.host;
  headers['x-real-ip'] = request.gateway.clientIp;
  headers['x-request-id'] = request.id;
  if (headers.forwarded !== undefined) delete headers.forwarded;
  return headers;
}

/** The header names a `Connection` field lists (RFC 9110 section 7.6.1), lower-cased. */
function connectionTokens(value: string | undefined): string[] | undefined {
  return value?.toLowerCase().split(',').map((token) => token.trim());
}

// Set for this hop below, or meaningless on a handshake (a GET with no body whose next bytes are frames).
const WS_OWN = new Set(['host', 'connection', 'upgrade', 'transfer-encoding', 'content-length']);

/**
 * Headers of the upstream WebSocket handshake (proxy/ws-tunnel.ts): the
 * client's end-to-end fields (Authorization, cookies, custom headers) and
 * its Sec-WebSocket-* fields as sent, since the upstream answers the
 * handshake itself; hop-by-hop fields removed, `Upgrade` and `Connection:
 * Upgrade` for this hop, `Host` the target's, plus the same forwarding
 * fields as a proxied request.
 */
export function upstreamWebSocketHeaders(request: FastifyRequest, host: string): Headers {
  const listed = connectionTokens(request.headers.connection) ?? [];
  const out: Headers = { host, connection: 'Upgrade', upgrade: request.headers.upgrade };
  for (const name in request.headers) {
    if (WS_OWN.has(name) || HOP_BY_HOP.includes(name) || name === 'te') continue;
    if (listed.includes(name) && !name.startsWith('sec-websocket-')) continue;
    out[name] = request.headers[name];
  }
  return setForwardingHeaders(request, out);
}

// Never passed to the client: hop-by-hop fields, and limit headers, where the gateway's own win
// (with the older draft's separate RateLimit-* fields, which a client could read instead of ours).
const OLD_DRAFT_LIMIT_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];
const NOT_DOWNSTREAM = new Set(['connection', 'te', ...HOP_BY_HOP, ...ALL_LIMIT_HEADERS, ...OLD_DRAFT_LIMIT_HEADERS]);

/**
 * Headers sent to the client: hop-by-hop fields (and any the upstream's
 * `Connection` lists) removed, and the gateway's own limit headers win over
 * an upstream's. Copies rather than deletes: a fresh object stays fast for
 * the header writes that follow.
 */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const listed = connectionTokens(headers.connection);
  const out: IncomingHttpHeaders = {};
  for (const name in headers) {
    if (NOT_DOWNSTREAM.has(name) || (listed !== undefined && listed.includes(name))) continue;
    out[name] = headers[name];
  }
  return out;
}
