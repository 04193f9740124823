import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { Logger } from '../observability/logging.js';
import { normaliseIp } from '../limit/keys.js';
import type { AuthFailureLimit, AuthThrottle } from './auth-throttle.js';
import { adminError } from './errors.js';

/**
 * Bearer tokens of the admin API, compared in constant time: each candidate
 * and the presented token are hashed to 32 bytes first, so neither length
 * nor content leaks through timing, and every configured token is compared
 * (no early exit) before the answer is known.
 */
export class AdminTokens {
  readonly #tokens: readonly { readonly id: string; readonly digest: Buffer }[];

  constructor(tokens: readonly { readonly id: string; readonly token: string }[]) {
    this.#tokens = tokens.map((t) => ({ id: t.id, digest: digest(t.token) }));
  }

  /** The id of the token an `Authorization` header carries, or undefined. */
  identify(authorization: string | undefined): string | undefined {
    const match = /^Bearer +(\S+)$/i.exec(authorization ?? '');
    const found = this.identifyToken(match?.[1] ?? '');
    return match ? found : undefined;
  }

  /** The id of a token presented as it is (the dashboard's sign-in form), or undefined. */
  identifyToken(token: string): string | undefined {
    const presented = digest(token);
    let found: string | undefined;
    for (const t of this.#tokens) if (timingSafeEqual(t.digest, presented) && found === undefined) found = t.id;
    return found;
  }

  /** Whether this id is configured with the token of this SHA-256 (hex): a dashboard session ends when its token is removed or changed. */
  has(id: string, tokenDigest: string): boolean {
    return this.#tokens.some((t) => t.id === id && t.digest.toString('hex') === tokenDigest);
  }
}

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

/** The SHA-256 (hex) a dashboard session keeps of the token that signed it in. */
export const tokenDigest = (token: string): string => digest(token).toString('hex');

declare module 'fastify' {
  interface FastifyContextConfig {
    /** 'open': the admin route answers without a token (markOpen). */
    adminAuth?: 'open';
  }
}

/**
 * Marks every route registered after it as open (no token). Added to the
 * scope that registers /health, /ready and /metrics, so openness belongs to
 * the route the router found, never to how the URL was spelled; anything
 * else, the 404 handler included, needs the token.
 */
export function markOpen(route: RouteOptions): void {
  route.config = { ...route.config, adminAuth: 'open' };
}

export const isOpen = (request: FastifyRequest): boolean => request.routeOptions.config.adminAuth === 'open';

export interface AuthContext {
  readonly tokens: AdminTokens;
  readonly throttle: AuthThrottle;
  readonly limit: AuthFailureLimit;
  readonly logger: Logger;
}

/**
 * Whether `request` carries a configured token: true sets `adminId`; false
 * has answered 401, or 429 while its address is throttled. A throttled
 * address is refused before its token is looked at, a right one included,
 * or guessing would go on at full speed behind the 429s.
 */
export function authenticate(request: FastifyRequest, reply: FastifyReply, ctx: AuthContext): boolean {
  const address = normaliseIp(request.ip);
  const wait = ctx.throttle.waitMs(address, ctx.limit);
  if (wait > 0) {
    const seconds = Math.ceil(wait / 1000);
    adminError(reply.header('retry-after', String(seconds)), 429, 'too_many_requests', { retry_after: seconds });
    return false;
  }
  const id = ctx.tokens.identify(request.headers.authorization);
  if (id !== undefined) {
    request.adminId = id;
    return true;
  }
  if (ctx.throttle.fail(address, ctx.limit)) {
    // Once per episode; never the token presented.
    const retryAfter = Math.ceil(ctx.throttle.waitMs(address, ctx.limit) / 1000);
    ctx.logger.warn({ event: 'admin_auth_throttled', client: address, retry_after: retryAfter }, `admin: too many failed authentications from ${address}; refused for ${retryAfter}s, longer if they go on`);
  }
  adminError(reply, 401, 'unauthorized');
  return false;
}
