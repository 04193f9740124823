import type { IncomingMessage } from 'node:http';
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { RequestState } from '../request-state.js';
import { RESERVED_PATHS } from '../config/validate.js';
import { sendGatewayError } from '../respond.js';
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
 * First onRequest hook: refuses malformed targets (400) and unrouted paths
 * (404), and checks Fastify's router agrees with the route table.
 */
export function routingHook(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  const state = (request.raw as RawWithState)[kState] as RequestState;
  request.gateway = state;
  if (state.badTarget !== undefined) return sendGatewayError(reply, 'TG_ERR_REQUEST_BAD_PATH');
  const route = state.route;
  if (route === undefined) {
    if (RESERVED.has(state.path)) return done();
    return sendGatewayError(reply, 'TG_ERR_ROUTE_NOT_FOUND');
  }
  const routedTo = (request.routeOptions.config as { routeIndex?: number }).routeIndex;
  if (routedTo === undefined) return sendGatewayError(reply, 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED');
  if (routedTo !== route.index) {
    // Both decide on the same canonical path, so this is a bug, never an input: fail closed.
    request.log.error({ path: state.path, table: route.index, router: routedTo }, 'route table and router disagree');
    return sendGatewayError(reply, 'TG_ERR_INTERNAL');
  }
  // request.ip and request.ips each walk X-Forwarded-For: walk it once.
  const ips = request.ips;
  state.clientIp = ips ? (ips[ips.length - 1] as string) : request.ip;
  state.forwardedFor = ips ? [...ips].reverse().join(', ') : state.clientIp;
  done();
}
