import type { IncomingHttpHeaders } from 'node:http';
import { util } from 'undici';
import type { FastifyRequest } from 'fastify';
import { SESSION_COOKIE, withoutSessionCookie } from '../dashboard/cookies.js';
import { ALL_LIMIT_HEADERS } from '../limit/headers.js';
import { formatTraceparent } from '../tracing/traceparent.js';

const { headerNameToString } = util;

/** Hop-by-hop fields (RFC 9110 section 7.6.1) besides `Connection`, `TE` and `Transfer-Encoding`. */
const HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'upgrade', 'trailer', 'proxy-authorization', 'proxy-authenticate'];

type Headers = Record<string, string | string[] | number | undefined>;

// The trace context fields: the gateway continues the client's trace as a hop of its own (tracing/context.ts).
const TRACE_CONTEXT = ['traceparent', 'tracestate'];

// Never copied from the client: hop-by-hop fields, fields undici writes itself, and the forwarding fields only
// the gateway sets. `__proto__` is no header anyone needs, and as a key it would set the copy's prototype.
const NOT_UPSTREAM = new Set([
  'connection', 'transfer-encoding', 'host', 'expect', 'forwarded', '__proto__', ...HOP_BY_HOP,
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip', 'x-request-id', ...TRACE_CONTEXT,
]);

/**
 * Headers sent upstream, built in one pass over the client's: hop-by-hop
 * fields (and any the client's `Connection` lists) dropped before the
 * forwarding and trace context fields are set, so a client cannot remove those. `Expect` is
 * dropped because Node's server has already answered `100 Continue` (the
 * body is streaming to us); the expectation was the client's of this hop.
 * A chunked body is sent chunked again by undici.
 */
export function forwardRequestHeaders(request: FastifyRequest, host: string): Headers {
  const from = request.headers;
  const listed = connectionTokens(from.connection);
  const out: Headers = { host };
  for (const name in from) {
    if (NOT_UPSTREAM.has(name) || (listed !== undefined && listed.includes(name))) continue;
    // TE is hop-by-hop; only "trailers" may be passed on (and undici refuses anything else).
    if (name === 'te' && from.te !== 'trailers') continue;
    out[name] = from[name];
  }
  return setForwardingHeaders(request, out);
}

/**
 * The fields only the gateway sets: the client's copies, if any, are
 * overwritten. X-Real-IP is the client the gateway identified (after
 * trust_proxy). `Forwarded` (RFC 7239) is dropped whoever sent it, a trusted
 * hop included: the gateway neither checks nor writes one, and an origin that
 * read a passed-on copy would believe whatever address a client put there.
 * `traceparent` names the gateway's own span as the parent (the client's
 * value never passes as it came); `tracestate` goes on only with a valid one.
 */
function setForwardingHeaders(request: FastifyRequest, headers: Headers): Headers {
  const state = request.gateway;
  headers['x-forwarded-for'] = state.forwardedFor;
  headers['x-forwarded-proto'] = request.protocol;
  headers['x-forwarded-host'] = request.host;
  headers['x-real-ip'] = state.clientIp;
  headers['x-request-id'] = request.id;
  if (headers.forwarded !== undefined) delete headers.forwarded;
  // The dashboard's session (admin listener, same host) is never an upstream's business.
  const cookie = headers.cookie;
  if (typeof cookie === 'string' && cookie.includes(SESSION_COOKIE)) {
    const kept = withoutSessionCookie(cookie);
    if (kept === undefined) delete headers.cookie;
    else headers.cookie = kept;
  }
  if (state.traceId !== '') {
    headers.traceparent = formatTraceparent(state);
    if (state.traceState !== undefined) headers.tracestate = state.traceState;
  }
  return headers;
}

/**
 * The header names a `Connection` field lists (RFC 9110 section 7.6.1),
 * lower-cased; undefined for the two values nearly every peer sends, which
 * name no field the lists above do not already drop.
 */
function connectionTokens(value: string | undefined): string[] | undefined {
  if (value === undefined || value === 'keep-alive' || value === 'close' || value === 'Keep-Alive' || value === 'Close') return undefined;
  return value.toLowerCase().split(',').map((token) => token.trim());
}

// Set for this hop below, or meaningless on a handshake (a GET with no body whose next bytes are frames).
const WS_OWN = new Set(['host', 'connection', 'upgrade', 'transfer-encoding', 'content-length', ...TRACE_CONTEXT]);

/**
 * Headers of the upstream WebSocket handshake (proxy/ws-tunnel.ts): the
 * client's end-to-end fields (Authorization, cookies, custom headers) and
 * its Sec-WebSocket-* fields as sent, since the upstream answers the
 * handshake itself; hop-by-hop fields removed, `Upgrade` and `Connection:
 * Upgrade` for this hop, `Host` the target's, plus the same forwarding
 * and trace context fields as a proxied request.
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
const NOT_DOWNSTREAM = new Set(['connection', 'te', '__proto__', ...HOP_BY_HOP, ...ALL_LIMIT_HEADERS, ...OLD_DRAFT_LIMIT_HEADERS]);

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

/** Response headers as Fastify's reply.getHeaders() gives them and Node's writeHead takes them. */
export type ResponseHeaders = Record<string, string | number | string[] | undefined>;

/**
 * Headers sent to the client, read straight from undici's raw response head
 * (name, value, name, value ... as Buffers, latin1 so every byte survives):
 * hop-by-hop fields (and any the upstream's `Connection` lists) removed, and
 * limit headers, which the gateway adds its own of (response-head.ts).
 */
export function responseHeaders(raw: readonly Buffer[]): ResponseHeaders {
  let listed: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 10 && headerNameToString(raw[i]!) === 'connection') listed = connectionTokens(raw[i + 1]!.toString('latin1'));
  }
  const out: ResponseHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = headerNameToString(raw[i]!);
    // Transfer-Encoding too: Node frames the body it writes itself.
    if (NOT_DOWNSTREAM.has(name) || name === 'transfer-encoding' || (listed !== undefined && listed.includes(name))) continue;
    const value = raw[i + 1]!.toString('latin1');
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (Array.isArray(seen)) seen.push(value);
    else out[name] = [String(seen), value];
  }
  return out;
}

/** Header values with the characters Node refuses to write removed (HTAB, SP-~ and obs-text stay), in place. */
export function sanitizeHeaderValues(headers: ResponseHeaders): ResponseHeaders {
  for (const name in headers) {
    const value = headers[name];
    if (typeof value === 'string') headers[name] = clean(value);
    else if (Array.isArray(value)) headers[name] = value.map(clean);
  }
  return headers;
}

function clean(value: string): string {
  return value.replace(/[^\t\x20-\x7E\x80-\xFF]/g, '');
}
