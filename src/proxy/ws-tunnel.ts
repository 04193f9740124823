import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RouteConfig } from '../config/types.js';
import { ERRORS } from '../errors.js';
import { sendGatewayError } from '../respond.js';
import { upgradeHead } from '../request-state.js';
import type { Target } from '../upstream/target.js';
import { classifyUpstreamError } from './errors.js';
import { downstreamResponseHeaders, upstreamWebSocketHeaders } from './headers.js';
import { addLimitHeaders, type HeaderFields } from '../limit/headers.js';

export interface TunnelOptions {
  readonly route: RouteConfig;
  /** Told of a handshake the upstream could not be reached for (metrics), as for any proxied request. */
  readonly onUpstreamError: (route: RouteConfig, reason: string) => void;
}

/**
 * Proxies a WebSocket handshake that routing, the limit and the target
 * choice have let through. The upstream gets the client's handshake (its
 * own Sec-WebSocket-* fields, so it alone negotiates key, subprotocol and
 * extensions) and the client gets the upstream's answer: `101` and its
 * headers only once the upstream has switched, after which the two sockets
 * are joined byte for byte (frames are never decoded); any other status
 * with its headers and body, then the connection closes. A gateway that
 * answered 101 itself would tell a client refused upstream (401, 403, 5xx)
 * that it was in, then hang up.
 *
 * `path` is the forwarded path (the route's rewrite applied), without query.
 */
export function openTunnel(request: FastifyRequest, reply: FastifyReply, target: Target, path: string, options: TunnelOptions): void {
  const client = request.raw.socket;
  // Gone while the hooks held it (a limit's delay): its 499 is written already.
  if (client.destroyed) return;
  const { route } = options;
  const url = new URL(target.config.origin);
  const secure = url.protocol === 'https:';
  // A tunnel owns its upstream connection for life: never from, nor back to, a keep-alive pool.
  const upstream = (secure ? httpsRequest : httpRequest)({
    method: 'GET',
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    path: path + request.gateway.query,
    headers: upstreamWebSocketHeaders(request, target.host) as OutgoingHttpHeaders,
    agent: false,
    // Node names the server (SNI) from `host` itself, and leaves it out for an IP address as RFC 6066 asks.
    ...(secure ? { rejectUnauthorized: route.tlsVerify } : {}),
  });
  target.inFlight++;
  let settled = false;
  let early: Buffer = Buffer.alloc(0);
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    early = watch.stop();
    return true;
  };
  // The handshake (connect included) has the route's timeout; an open tunnel has none.
  const timer = setTimeout(() => upstream.destroy(Object.assign(new Error('upstream did not answer the WebSocket handshake in time'), { code: 'ETIMEDOUT' })), route.timeoutMs);
  // The client left before the upstream answered: nothing the target did, nothing to record.
  const onClientGone = (): void => {
    if (!settle()) return;
    target.inFlight--;
    upstream.destroy();
    // Its FIN left our half open (the server allows half-open sockets): close it, which writes its 499.
    client.destroy();
  };
  const watch = watchClient(client, onClientGone);

  upstream.once('upgrade', (res: IncomingMessage, socket: Socket, upstreamHead: Buffer) => {
    if (!settle()) return socket.destroy();
    target.record(101, true);
    const head = upgradeHead(request.raw);
    join(request, reply, res, socket, { upstream: upstreamHead, client: head === undefined ? early : Buffer.concat([head, early]) }, () => target.inFlight--);
  });
  upstream.once('response', (res: IncomingMessage) => {
    if (!settle()) return res.destroy();
    target.inFlight--;
    target.record(res.statusCode ?? 502, (res.statusCode ?? 502) < 500);
    refuse(reply, res);
  });
  upstream.on('error', (error: Error) => {
    if (!settle()) return;
    target.inFlight--;
    const failure = classifyUpstreamError(error);
    const status = ERRORS[failure.code].status;
    target.record(status, false);
    request.gateway.upstreamError = { reason: failure.reason, error };
    options.onUpstreamError(route, failure.reason);
    sendGatewayError(reply, failure.code);
  });
  upstream.end();
}

/**
 * The upstream switched: the client gets its 101 (the upstream's own
 * headers, hop-by-hop fields re-written for this hop, the gateway's limit
 * headers winning as on any response), then bytes flow both ways. Whichever
 * side ends or fails takes the other down with it.
 */
function join(request: FastifyRequest, reply: FastifyReply, res: IncomingMessage, upstream: Socket, read: { upstream: Buffer; client: Buffer }, onClose: () => void): void {
  const client = request.raw.socket;
  reply.hijack();
  // The status the client was sent (the ServerResponse itself never writes): the access line reads it at close.
  reply.raw.statusCode = 101;
  upstream.once('close', onClose);
  upstream.on('error', () => upstream.destroy());
  client.on('error', () => client.destroy());
  upstream.once('close', () => client.destroy());
  client.once('close', () => upstream.destroy());
  upstream.setNoDelay(true);
  (client as Socket).setNoDelay?.(true);
  client.write(switchingHead(res, reply));
  if (read.upstream.length > 0) client.write(read.upstream);
  if (read.client.length > 0) upstream.write(read.client);
  upstream.pipe(client);
  client.pipe(upstream);
}

// What a client may send before its upstream answered (frames it should not send yet): kept up to this, then no longer read.
const EARLY_LIMIT = 64 * 1024;

/**
 * Node stops reading a socket it hands to 'upgrade', and a socket not read
 * never sees its peer hang up. Until the upstream answers, the client is
 * read: a FIN means it left (as Node's own server takes it), and what it
 * sends early is kept for the upstream. `stop` hands that over and leaves
 * the socket paused for the pipe that follows.
 */
function watchClient(client: Socket, onGone: () => void): { stop(): Buffer } {
  const kept: Buffer[] = [];
  let size = 0;
  const keep = (chunk: Buffer): void => {
    kept.push(chunk);
    size += chunk.length;
    if (size >= EARLY_LIMIT) client.pause();
  };
  client.on('data', keep).once('end', onGone).once('close', onGone);
  return {
    stop() {
      client.off('data', keep).off('end', onGone).off('close', onGone);
      client.pause();
      return Buffer.concat(kept);
    },
  };
}

function switchingHead(res: IncomingMessage, reply: FastifyReply): string {
  const headers: Record<string, unknown> = limited(reply, downstreamResponseHeaders(res.headers));
  let head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${res.headers.upgrade ?? 'websocket'}\r\nConnection: Upgrade\r\n`;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) head += `${name}: ${String(v)}\r\n`;
  }
  return `${head}\r\n`;
}

/**
 * The upstream refused the handshake: the client gets that answer as the
 * upstream gave it (status, end-to-end headers, body; the gateway's limit
 * headers win), on a connection that then closes (the listener's response
 * object for an upgrade says `Connection: close`).
 */
function refuse(reply: FastifyReply, res: IncomingMessage): void {
  const headers = limited(reply, downstreamResponseHeaders(res.headers));
  // Node's client took the chunking apart; the response object frames the body again.
  delete headers['transfer-encoding'];
  const status = res.statusCode ?? 502;
  // Node's parser reads any three digits; Fastify (and HTTP) know 200-599 as final answers here.
  reply.code(status >= 200 && status <= 599 ? status : 502).headers(headers).send(res);
}

/** The upstream's handshake answer with the gateway's limit headers added (they win). */
function limited(reply: FastifyReply, headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const decision = reply.request.gateway.decision;
  return decision === undefined ? headers : addLimitHeaders(headers as HeaderFields, decision) as IncomingHttpHeaders;
}
