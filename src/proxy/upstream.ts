import type { ServerResponse } from 'node:http';
import { Transform, pipeline, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import type { RouteConfig } from '../config/types.js';
import { BODY_TOO_LARGE, causeCodes, classifyUpstreamError } from './errors.js';
import { CLIENT_GONE, clientGoneSignal } from './client-abort.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { openTunnel } from './ws-tunnel.js';
import { isUpgrade } from '../request-state.js';
import type { Target } from '../upstream/target.js';
import { sendGatewayError } from '../respond.js';
import { ERRORS } from '../errors.js';
import { PROXIED_METHODS } from '../config/defaults.js';
import { mountPrefix } from '../routing/hook.js';
import { kClientGone, kServedBy, UpstreamPool } from '../upstream/pool.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { Logger } from '../observability/logging.js';

export interface UpstreamOptions {
  readonly maxBodyBytes: number;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Told of every upstream failure (metrics); the access log line reports it too. */
  readonly onUpstreamError: (route: RouteConfig, reason: string) => void;
  /** The pool of the same route path in the config this one replaces (a reload). */
  readonly previousPool?: UpstreamPool;
}

/**
 * Registers one encapsulated @fastify/http-proxy instance for one route,
 * mounted where rewriteUrl sends the route's requests (`/__tg/<index>`). Its
 * upstream is the route's pool (upstream/pool.ts): one undici keep-alive pool
 * per target, closed with the app. The preHandler chooses the target (503 at
 * once when none is available) and reply-from sends to it. Bodies stream both
 * ways untouched: the plugin's content-type parser hands the raw request
 * stream to undici, and the upstream's response stream is piped back without
 * decompression or re-serialisation. WebSocket upgrades take the same path
 * (hooks, limit, target choice) and are then tunnelled (ws-tunnel.ts).
 */
export async function registerUpstream(app: FastifyInstance, route: RouteConfig, { previousPool, ...options }: UpstreamOptions): Promise<UpstreamPool> {
  // previousPool stays out of the closures below: through them the app would keep the retired pool, and that one its own predecessor.
  const pool = new UpstreamPool(route, {
    previous: previousPool,
    series: (target) => options.metrics.targetSeries(route.path, target),
    statusOfError: (error) => ERRORS[classifyUpstreamError(error).code].status,
    onStateChange: (target, change) => options.logger.warn({ route: route.path, target, change }, `upstream target ${change}`),
    refreshBeforeScrape: (refresh) => options.metrics.refreshBeforeScrape(refresh),
  });
  app.addHook('onClose', async () => pool.close());
  await app.register(httpProxy, {
    prefix: mountPrefix(route.index),
    // No fixed upstream: getUpstream below names the target the preHandler chose.
    upstream: '',
    // Forwarded path = upstream's own path + (rewrite.prefix, or the route prefix unless stripped) + the rest.
    rewritePrefix: route.upstreamPath + (route.rewritePrefix ?? (route.stripPrefix || route.path === '/' ? '' : route.path)),
    httpMethods: [...PROXIED_METHODS],
    config: { routeIndex: route.index },
    disableRequestLogging: true,
    // reply-from's own error log is replaced by the gateway's one access line per request.
    logLevel: 'error',
    // A WebSocket handshake (the listener dispatches it here like any request) is tunnelled to the chosen target.
    handler: (request: FastifyRequest, reply: FastifyReply, dest: string, replyOptions: unknown) => {
      const target = (request.raw as RawWithTarget)[kTarget] as Target;
      if (isUpgrade(request.raw)) return openTunnel(request, reply, target, dest, { route, onUpstreamError: options.onUpstreamError });
      return (reply as FastifyReply & { from(dest: string, options: unknown): unknown }).from(dest, replyOptions);
    },
    // reply-from sends through the pool; it is ours to close (above).
    undici: pool.dispatcher as never,
    preHandler: (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
      const target = pool.choose();
      if (target === undefined) return sendGatewayError(reply, 'TG_ERR_UPSTREAM_UNAVAILABLE');
      request.gateway.target = target.config.url;
      (request.raw as RawWithTarget)[kTargetOrigin] = target.config.origin;
      (request.raw as RawWithTarget)[kTarget] = target;
      (request.raw as RawWithTarget)[kResponse] = reply.raw;
      limitChunkedBody(request, options.maxBodyBytes);
      done();
    },
    replyOptions: {
      timeout: route.timeoutMs,
      // The target the preHandler chose (http and ws alike).
      getUpstream: (request: FastifyRequest) => (request.raw as RawWithTarget)[kTargetOrigin] as string,
      // reply-from retries a GET answered 503 up to 10 times by default: a gateway passes the 503 on.
      retryDelay: () => null,
      // Keep the query byte for byte (http-proxy would re-encode it).
      queryString: (_search: string, url: string) => {
        const q = url.indexOf('?');
        return q === -1 ? '' : url.slice(q + 1);
      },
      rewriteRequestHeaders: (request: FastifyRequest, headers: Record<string, string | string[] | number | undefined>) => {
        const out = upstreamRequestHeaders(request, headers) as Record<string | symbol, unknown>;
        // The client's hang-up cancels the upstream request (see client-abort.ts).
        out[kClientGone] = clientGoneSignal((request.raw as RawWithTarget)[kResponse] as ServerResponse);
        // A retry on another target names it here, so the access line says who served the request.
        if (route.upstream.retries > 0) out[kServedBy] = (url: string) => (request.gateway.target = url);
        return out;
      },
      rewriteHeaders: (headers: Record<string, string | string[] | undefined>) => downstreamResponseHeaders(headers),
      onError: (reply: FastifyReply, { error }: { error: Error }) => {
        // Cancelled because the client left: not the upstream's failure, and no one to answer (the access log says 499).
        if (causeCodes(error).includes(CLIENT_GONE)) return;
        const failure = classifyUpstreamError(error);
        reply.request.gateway.upstreamError = { reason: failure.reason, error };
        options.onUpstreamError(route, failure.reason);
        sendGatewayError(reply, failure.code);
      },
    } as never,
  });
  return pool;
}

const kTargetOrigin = Symbol('throttlegate.targetOrigin');
const kResponse = Symbol('throttlegate.response');
const kTarget = Symbol('throttlegate.target');
type RawWithTarget = FastifyRequest['raw'] & { [kTargetOrigin]?: string; [kResponse]?: ServerResponse; [kTarget]?: Target };

/**
 * A body with Content-Length over the limit is refused before routing; a
 * chunked body is counted as it streams and cut at the limit (413).
 */
function limitChunkedBody(request: FastifyRequest, maxBytes: number): void {
  const body = request.body;
  if (request.headers['content-length'] !== undefined || body === undefined || body === null) return;
  if (typeof (body as NodeJS.ReadableStream).pipe !== 'function') return;
  let seen = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > maxBytes) callback(Object.assign(new Error('request body too large'), { code: BODY_TOO_LARGE }));
      else callback(null, chunk);
    },
  });
  pipeline(body as NodeJS.ReadableStream, counter, () => {});
  request.body = counter;
}
