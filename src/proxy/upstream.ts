import { Transform, pipeline, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import type { RouteConfig } from '../config/types.js';
import { BODY_TOO_LARGE, classifyUpstreamError } from './errors.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { sendGatewayError } from '../respond.js';

export interface UpstreamOptions {
  readonly maxBodyBytes: number;
  /** Told of every upstream failure (metrics); the access log line reports it too. */
  readonly onUpstreamError: (route: RouteConfig, reason: string) => void;
}

/** Methods proxied; any other method on a routed path is answered 405. */
export const PROXIED_METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'];

/**
 * Registers one encapsulated @fastify/http-proxy instance for one route, with
 * its own undici pool (keep-alive) to the upstream, closed with the app.
 * Bodies stream both ways untouched: the plugin's content-type parser hands
 * the raw request stream to undici, and the upstream's response stream is
 * piped back without decompression or re-serialisation.
 */
export async function registerUpstream(app: FastifyInstance, route: RouteConfig, options: UpstreamOptions): Promise<void> {
  await app.register(httpProxy, {
    prefix: route.path === '/' ? '' : route.path,
    upstream: route.upstreamOrigin,
    // Forwarded path = upstream's own path + (the route prefix unless stripped) + the rest.
    rewritePrefix: route.upstreamPath + (route.stripPrefix || route.path === '/' ? '' : route.path),
    httpMethods: PROXIED_METHODS,
    config: { routeIndex: route.index },
    disableRequestLogging: true,
    // reply-from's own error log is replaced by the gateway's one access line per request.
    logLevel: 'error',
    undici: {
      connections: 128,
      pipelining: 1,
      connect: { timeout: Math.min(route.timeoutMs, 10_000) },
      // reply-from defaults rejectUnauthorized to false; a gateway must verify unless told not to.
      tls: { rejectUnauthorized: route.tlsVerify },
    } as never,
    preHandler: (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
      limitChunkedBody(request, options.maxBodyBytes);
      done();
    },
    replyOptions: {
      timeout: route.timeoutMs,
      // Keep the query byte for byte (http-proxy would re-encode it).
      queryString: (_search: string, url: string) => {
        const q = url.indexOf('?');
        return q === -1 ? '' : url.slice(q + 1);
      },
      rewriteRequestHeaders: (request: FastifyRequest, headers: Record<string, string | string[] | number | undefined>) =>
        upstreamRequestHeaders(request, headers),
      rewriteHeaders: (headers: Record<string, string | string[] | undefined>) => downstreamResponseHeaders(headers),
      onError: (reply: FastifyReply, { error }: { error: Error }) => {
        const failure = classifyUpstreamError(error);
        reply.request.gateway.upstreamError = { reason: failure.reason, error };
        options.onUpstreamError(route, failure.reason);
        sendGatewayError(reply, failure.code);
      },
    } as never,
  });
}

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
