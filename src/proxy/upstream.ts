import { Transform, pipeline, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import type { RouteConfig } from '../config/types.js';
import { BODY_TOO_LARGE, classifyUpstreamError } from './errors.js';
import { createForwarder, heldTarget, holdTarget } from './forward.js';
import { openTunnel } from './ws-tunnel.js';
import { isUpgrade } from '../request-state.js';
import type { Target } from '../upstream/target.js';
import { sendGatewayError } from '../respond.js';
import { ERRORS } from '../errors.js';
import { PROXIED_METHODS } from '../config/defaults.js';
import { mountPrefix } from '../routing/hook.js';
import { UpstreamPool } from '../upstream/pool.js';
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
  /**
   * The route's adaptive concurrency gate (adaptive/concurrency/gate.ts), when
   * it has `adaptive_concurrency:`: takes an in-flight slot or answers 503 overloaded.
   */
  readonly admit?: ((request: FastifyRequest, reply: FastifyReply) => boolean) | null;
}

/**
 * Registers one encapsulated @fastify/http-proxy instance for one route,
 * mounted where rewriteUrl sends the route's requests (`/__tg/<index>`). Its
 * upstream is the route's pool (upstream/pool.ts): one undici keep-alive pool
 * per target, closed with the app. The preHandler takes a slot of the route's
 * adaptive concurrency limit, when it has one (503 overloaded when its band
 * has no room), chooses the target (503 at once when none is available) and hands the request to the forwarding core
 * (forward.ts) with the route's rewrite of the canonical path, the mapping
 * the plugin would make; the core hijacks the reply and dispatches to the
 * target's pool itself. The plugin's route `handler` is ours too, and takes
 * only WebSocket handshakes. Bodies stream
 * both ways untouched: the plugin's content-type parser hands the raw request
 * stream over, and the upstream's body is written into the client's response
 * chunk by chunk, without decompression or re-serialisation. WebSocket
 * handshakes take the same path (hooks, limit, target choice) and are then
 * tunnelled (ws-tunnel.ts).
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
  const forward = createForwarder({ route, pool, onUpstreamError: options.onUpstreamError });
  const tunnel = { route, onUpstreamError: options.onUpstreamError };
  const admit = options.admit ?? null;
  // Forwarded path = upstream's own path + (rewrite.prefix, or the route prefix unless stripped) + the rest.
  const rewritePrefix = route.upstreamPath + (route.rewritePrefix ?? (route.stripPrefix || route.path === '/' ? '' : route.path));
  await app.register(async (scope) => {
    // Every body streams to the upstream as it arrives: Fastify's own text/plain and JSON parsers would buffer it whole.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    await scope.register(httpProxy, {
      proxyPayloads: false,
      prefix: mountPrefix(route.index),
      // Only the base the plugin checks the mapped path against (no `..` escape): the preHandler's choice,
      // held on the request (forward.ts holdTarget), is where requests go. A fixed string also spares the
      // plugin a getUpstream call and an options copy per request.
      upstream: 'http://upstream.invalid',
      rewritePrefix,
      httpMethods: [...PROXIED_METHODS],
      config: { routeIndex: route.index },
      disableRequestLogging: true,
      logLevel: 'error',
      // The plugin still registers reply-from; nothing calls reply.from, so it gets a dispatcher that opens nothing.
      undici: UNUSED_DISPATCHER as never,
      // Reached by WebSocket handshakes only (the preHandler forwards every other request), which are tunnelled.
      handler: (request: FastifyRequest, reply: FastifyReply, dest: string) => openTunnel(request, reply, heldTarget(request) as Target, dest, tunnel),
      preHandler: (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
        // A WebSocket holds no slot: its lifetime is no latency sample, and it would hold the slot for hours.
        if (admit && !isUpgrade(request.raw) && !admit(request, reply)) return;
        const target = pool.choose();
        if (target === undefined) return sendGatewayError(reply, 'TG_ERR_UPSTREAM_UNAVAILABLE');
        holdTarget(request, target);
        limitChunkedBody(request, options.maxBodyBytes);
        if (isUpgrade(request.raw)) return done();
        // Forwarded from here: the plugin's handler would map the same path again from the mount URL, parsing it
        // into three URL objects to check for a `..` escape the canonical path (routing/normalise.ts) cannot hold.
        forward(request, reply, target, forwardedPath(rewritePrefix, route, request.gateway.path));
      },
    });
  });
  return pool;
}

/** The path sent upstream: the route's rewrite of the canonical path, as the plugin maps its mount URL. */
export function forwardedPath(rewritePrefix: string, route: RouteConfig, canonicalPath: string): string {
  const rest = route.path === '/' ? canonicalPath : canonicalPath.slice(route.path.length);
  return rewritePrefix + rest || '/';
}

const UNUSED_DISPATCHER = {
  request: (_opts: unknown, callback: (err: Error) => void) => callback(new Error('reply.from is not used: proxy/forward.ts dispatches')),
  close: () => {},
  destroy: () => {},
};

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
