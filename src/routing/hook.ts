import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { RequestState } from '../request-state.js';
import { RESERVED_PATHS } from '../config/validate.js';
import type { ErrorCode } from '../errors.js';
import { normaliseTarget } from './normalise.js';
import type { RouteTable } from './table.js';

const kState = Symbol('throttlegate.state');
type RawWithState = IncomingMessage & { [kState]?: RequestState };

const RESERVED = new Set<string>(RESERVED_PATHS);

/**
 * Fastify's `rewriteUrl`: runs before Fastify's router, so the router sees the
 * canonical URL, and our route table decides on the very same path.
 */
export function createUrlRewriter(table: RouteTable) {
  return function rewriteUrl(req: IncomingMessage): string {
    const url = req.url ?? '/';
    const target = normaliseTarget(url);
    const state: RequestState = {
      path: target.ok ? target.path : '',
      route: undefined,
      badTarget: target.ok ? undefined : target.reason,
      forwardedFor: '',
      clientIp: '',
      client: undefined,
      decision: undefined,
      upstreamError: undefined,
      internalError: undefined,
    };
    (req as RawWithState)[kState] = state;
    if (!target.ok) return '/';
    if (!RESERVED.has(target.path)) state.route = table.match(target.path);
    return target.path + target.query;
  };
}

/**
 * The routing step of the gateway's onRequest hook: the refusal for a
 * malformed target (400), an unrouted path (404) or an unproxied method (405),
 * or undefined when the request may go on. Also checks that Fastify's router
 * agrees with the route table, and records the client address once.
 */
export function admitRoute(request: FastifyRequest): ErrorCode | undefined {
  const state = (request.raw as RawWithState)[kState] as RequestState;
  request.gateway = state;
  if (state.badTarget !== undefined) return 'TG_ERR_REQUEST_BAD_PATH';
  const route = state.route;
  if (route === undefined) return RESERVED.has(state.path) ? undefined : 'TG_ERR_ROUTE_NOT_FOUND';
  const routedTo = (request.routeOptions.config as { routeIndex?: number }).routeIndex;
  if (routedTo === undefined) return 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED';
  if (routedTo !== route.index) {
    // Both decide on the same canonical path, so this is a bug, never an input: fail closed.
    request.log.error({ path: state.path, table: route.index, router: routedTo }, 'route table and router disagree');
    return 'TG_ERR_INTERNAL';
  }
  // request.ip and request.ips each walk X-Forwarded-For: walk it once.
  const ips = request.ips;
  if (ips === undefined) {
    state.clientIp = request.ip;
    state.forwardedFor = state.clientIp;
  } else {
    state.clientIp = ips[ips.length - 1] as string;
    state.forwardedFor = [...ips].reverse().join(', ');
  }
  return undefined;
}
