import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { isUpgrade, type RequestState } from '../request-state.js';
import { RESERVED_PATHS } from '../config/validate.js';
import type { ErrorCode } from '../errors.js';
import { normaliseTarget } from './normalise.js';
import type { RouteTable } from './table.js';

const kState = Symbol('throttlegate.state');
type RawWithState = IncomingMessage & { [kState]?: RequestState };

const RESERVED = new Set<string>(RESERVED_PATHS);

/** Where the proxy of route `index` is mounted in Fastify's router; requests reach it only through rewriteUrl. */
export function mountPrefix(index: number): string {
  return `/__tg/${index}`;
}

/**
 * Fastify's `rewriteUrl`: runs before Fastify's router. The route table alone
 * decides, on the canonical path (and the method and Host), and the URL is
 * rewritten to the chosen route's mount point (`/__tg/<index>` + the rest of
 * the path), so Fastify's router only dispatches and can never pick another
 * route. A client that sends `/__tg/...` itself is routed like any path.
 */
export function createUrlRewriter(table: RouteTable) {
  return function rewriteUrl(req: IncomingMessage): string {
    const url = req.url ?? '/';
    const target = normaliseTarget(url);
    const state: RequestState = {
      path: target.ok ? target.path : '',
      route: undefined,
      refusal: undefined,
      upgrade: isUpgrade(req),
      target: undefined,
      badTarget: target.ok ? undefined : target.reason,
      forwardedFor: '',
      clientIp: '',
      query: target.ok ? target.query : '',
      client: undefined,
      gate: undefined,
      decision: undefined,
      delayedMs: undefined,
      upstreamError: undefined,
      internalError: undefined,
    };
    (req as RawWithState)[kState] = state;
    if (!target.ok) return '/';
    if (RESERVED.has(target.path)) return target.path + target.query;
    const match = table.match(target.path, req.method ?? 'GET', req.headers.host ?? '');
    if (match.route === undefined) {
      state.refusal = match.refusal;
      // A 405 is counted and logged under the route that owns the path.
      if (match.refusal === 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED') state.route = match.on;
      return '/';
    }
    const route = match.route;
    state.route = route;
    const rest = route.path === '/' ? target.path : target.path.slice(route.path.length);
    return mountPrefix(route.index) + rest + target.query;
  };
}

/**
 * The routing step of the gateway's onRequest hook: the refusal for a
 * malformed target (400), an unrouted path (404) or a method no route on the
 * path takes (405), or undefined when the request may go on. Also checks that
 * Fastify dispatched to the route the table chose, and records the client
 * address once.
 */
export function admitRoute(request: FastifyRequest): ErrorCode | undefined {
  const state = (request.raw as RawWithState)[kState] as RequestState;
  request.gateway = state;
  if (state.badTarget !== undefined) return 'TG_ERR_REQUEST_BAD_PATH';
  if (state.refusal !== undefined) return state.refusal;
  const route = state.route;
  if (route === undefined) return RESERVED.has(state.path) ? undefined : 'TG_ERR_ROUTE_NOT_FOUND';
  const routedTo = (request.routeOptions.config as { routeIndex?: number }).routeIndex;
  if (routedTo !== route.index) {
    // rewriteUrl mounted the request on this route's prefix, so this is a bug, never an input: fail closed.
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
