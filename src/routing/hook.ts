import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { isUpgrade, type RequestState } from '../request-state.js';
import { RESERVED_PATHS } from '../config/validate.js';
import type { ErrorCode } from '../errors.js';
import { clientAddress, type ProxyTrust } from './client-address.js';
import { admit, type AdmissionRules } from './admission.js';
import { headRefusal } from './request-head.js';

const kState = Symbol('throttlegate.state');
type RawWithState = IncomingMessage & { [kState]?: RequestState };

const RESERVED = new Set<string>(RESERVED_PATHS);

/** Where the proxy of route `index` is mounted in Fastify's router; requests reach it only through rewriteUrl. */
export function mountPrefix(index: number): string {
  return `/__tg/${index}`;
}

/**
 * Fastify's `rewriteUrl`: runs before Fastify's router. Admission
 * (admission.ts) alone decides, on the canonical path (and the method, Host
 * and declared length), and the URL is rewritten to the chosen route's mount
 * point (`/__tg/<index>` + the rest of the path), so Fastify's router only
 * dispatches and can never pick another route. A client that sends
 * `/__tg/...` itself is routed like any path. A refused request goes to `/`,
 * where admitRoute answers the refusal.
 */
export function createUrlRewriter(rules: AdmissionRules) {
  return function rewriteUrl(req: IncomingMessage): string {
    const url = req.url ?? '/';
    const admission = admit({ method: req.method ?? 'GET', target: url, host: req.headers.host ?? '', contentLength: req.headers['content-length'] }, rules);
    const upgrade = isUpgrade(req);
    const badHead = headRefusal(req, upgrade);
    const state: RequestState = {
      path: admission.path,
      route: undefined,
      refusal: undefined,
      upgrade,
      target: undefined,
      badHead,
      badTarget: undefined,
      forwardedFor: '',
      clientIp: '',
      query: admission.query,
      client: undefined,
      gate: undefined,
      decision: undefined,
      limitSet: undefined,
      risk: undefined,
      riskScaled: false,
      riskAction: undefined,
      delayedMs: undefined,
      retries: 0,
      upstreamError: undefined,
      internalError: undefined,
      // tracing/context.ts beginTrace fills these in the onRequest hook.
      traceId: '',
      spanId: '',
      parentSpanId: undefined,
      traceFlags: 0,
      traceState: undefined,
    };
    (req as RawWithState)[kState] = state;
    if (badHead !== undefined) return '/';
    if (admission.kind === 'endpoint') return admission.path + admission.query;
    if (admission.kind === 'refused') {
      state.refusal = admission.refusal;
      if (admission.refusal === 'TG_ERR_REQUEST_BAD_PATH') state.badTarget = admission.reason;
      // A 405 or a 413 is counted and logged under the route that owns the path.
      state.route = admission.on;
      return '/';
    }
    const route = admission.route;
    state.route = route;
    const rest = route.path === '/' ? admission.path : admission.path.slice(route.path.length);
    return mountPrefix(route.index) + rest + admission.query;
  };
}

/** How admitRoute finds the client: the config's trust_proxy, and where a malformed X-Forwarded-For is counted. */
export interface ClientAddressing {
  readonly trust: ProxyTrust;
  onMalformedForwardedFor(): void;
}

/**
 * The routing step of the gateway's onRequest hook: the refusal for a
 * head the gateway will not forward (400, 431: request-head.ts), a
 * malformed target (400), an unrouted path (404), a method no route on the
 * path takes (405) or a declared body over max_body_bytes (413), as
 * rewriteUrl's admission decided, or undefined when the request may go on. Also checks that
 * Fastify dispatched to the route the table chose, and records the client
 * address once, first, so every answer (a 404 too) is logged under it.
 */
export function admitRoute(request: FastifyRequest, addressing: ClientAddressing): ErrorCode | undefined {
  const state = (request.raw as RawWithState)[kState] as RequestState;
  request.gateway = state;
  // The one walk of X-Forwarded-For: Fastify's request.ip/ips would take a junk entry as the client.
  const client = clientAddress(request.raw.socket.remoteAddress, request.headers['x-forwarded-for'], addressing.trust);
  state.clientIp = client.ip;
  state.forwardedFor = client.chain.join(', ');
  if (client.malformed) addressing.onMalformedForwardedFor();
  if (state.badHead !== undefined) return state.badHead;
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
  return undefined;
}
