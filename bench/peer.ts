/**
 * (h), (i), (j): the peer to beat. Bare fastify + @fastify/http-proxy, as (a),
 * plus @fastify/rate-limit on its Redis store, keyed like the gateway
 * (x-api-key, else the client IP). No logging. argv: ORIGIN_PORT REDIS_PORT.
 * (k): the same peer on its in-memory store, the reference for (b).
 */
import fastify, { type FastifyRequest } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import rateLimit from '@fastify/rate-limit';
import { Redis } from 'ioredis';
import { announce, fail, portArg, portOf } from './child.js';

/** A fixed-window limit in @fastify/rate-limit's terms: `max` requests per `timeWindowMs`. */
export interface PeerLimit {
  readonly max: number;
  readonly timeWindowMs: number;
}

/**
 * (h) and (j): never triggers. The 1000 s window keeps every key in Redis for
 * the whole run, as HOLD does for the gateway, so (j) holds all 100k keys.
 */
export const PEER_NEVER: PeerLimit = { max: 1_000_000_000, timeWindowMs: 1_000_000 };
/** (i): one request per second, as FLOOD: one client is refused almost always. */
export const PEER_FLOOD: PeerLimit = { max: 1, timeWindowMs: 1000 };

function clientKey(request: FastifyRequest): string {
  const apiKey = request.headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey : request.ip;
}

/** `keyPrefix` null: the plugin's default in-memory store (k); else its Redis store under that prefix. */
export function runPeer(limit: PeerLimit, name: string, keyPrefix: string | null): void {
  const originPort = portArg(name);
  // The plugin README's advice for ioredis under a rate limiter: fail a command fast instead of retrying 20 times.
  const redis = keyPrefix === null ? undefined : new Redis(`redis://127.0.0.1:${portArg(name, 3)}`, { connectTimeout: 500, maxRetriesPerRequest: 1 });
  const app = fastify({ logger: false });
  (async () => {
    // Registered before the proxy: its onRoute hook only limits routes added after it.
    await app.register(rateLimit, {
      ...(redis && keyPrefix !== null ? { redis, nameSpace: keyPrefix } : {}),
      max: limit.max,
      timeWindow: limit.timeWindowMs,
      keyGenerator: clientKey,
    });
    await app.register(httpProxy, { upstream: `http://127.0.0.1:${originPort}`, prefix: '/api' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    announce(portOf(app.server.address()));
  })().catch(fail);
}
