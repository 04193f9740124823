import type { GatewayConfig, RouteConfig } from '../config/types.js';
import { RESERVED_PATHS } from '../config/validate.js';
import type { ErrorCode } from '../errors.js';
import { normaliseTarget } from './normalise.js';
import { RouteTable } from './table.js';

/** The gateway's own endpoints (observability/endpoints.ts): answered by it, never proxied, never limited. */
export type Endpoint = (typeof RESERVED_PATHS)[number];

/** The refusals decided before any limit, from the request line and its declared size alone. */
export type AdmissionRefusal = Extract<ErrorCode, 'TG_ERR_REQUEST_BAD_PATH' | 'TG_ERR_ROUTE_NOT_FOUND' | 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED' | 'TG_ERR_REQUEST_BODY_TOO_LARGE'>;

/** What admission reads of one config: built once per config, by the app and by explain alike. */
export interface AdmissionRules {
  readonly table: RouteTable;
  readonly maxBodyBytes: number;
  /** False once admin.expose_metrics moved /metrics to the admin listener. */
  readonly metricsServed: boolean;
}

/** What admission reads of one request: as the client sent it (`target` is the raw request target). */
export interface RequestLine {
  readonly method: string;
  readonly target: string;
  /** The Host header, or '' when absent. */
  readonly host: string;
  /** The Content-Length header as sent, if any. */
  readonly contentLength: string | undefined;
}

/** The canonical path and the query are '' when the target is malformed. */
export type Admission = { readonly path: string; readonly query: string } & (
  | { readonly kind: 'route'; readonly route: RouteConfig }
  | { readonly kind: 'endpoint'; readonly endpoint: Endpoint }
  /** `on`: the route the answer is counted and logged under (the path's route for a 405 or a 413), if any. */
  | { readonly kind: 'refused'; readonly refusal: AdmissionRefusal; readonly on: RouteConfig | undefined; readonly reason?: string }
);

const RESERVED: ReadonlySet<string> = new Set(RESERVED_PATHS);
// What Node's parser lets through as a Content-Length: it refuses anything else (400) before an app sees the request.
const DECIMAL = /^[0-9]+$/;

export function admissionRules(config: GatewayConfig): AdmissionRules {
  return { table: new RouteTable(config.routes), maxBodyBytes: config.server.maxBodyBytes, metricsServed: !config.admin?.exposeMetrics };
}

/**
 * Every decision the gateway makes about a request before its limits, in
 * the gateway's order: a malformed target (400), then either a reserved
 * path (the declared size, 413, then GET and HEAD only, and /metrics only
 * where it is served, else 404) or the route table (404, 405, then the
 * declared size, 413). One pure function for the request path
 * (routing/hook.ts) and explain (admin/explain.ts), so they cannot disagree.
 * The request head (field count, two Hosts: request-head.ts) is checked
 * before it, on what only a live request has.
 */
export function admit(request: RequestLine, rules: AdmissionRules): Admission {
  const declared = request.contentLength;
  // Only explain, whose headers are typed in, can get here with one; on the wire Node's parser answered 400.
  if (declared !== undefined && !DECIMAL.test(declared)) return refused('TG_ERR_REQUEST_BAD_PATH', '', '', undefined, 'content-length is not a decimal number');
  const target = normaliseTarget(request.target);
  if (!target.ok) return refused('TG_ERR_REQUEST_BAD_PATH', '', '', undefined, target.reason);
  const { path, query } = target;
  // A declared length over the limit is refused before it costs a token or an upstream socket.
  const tooLarge = declared !== undefined && Number(declared) > rules.maxBodyBytes;
  if (RESERVED.has(path)) {
    if (tooLarge) return refused('TG_ERR_REQUEST_BODY_TOO_LARGE', path, query, undefined);
    // Fastify answers HEAD for every GET route; /metrics may have moved to the admin listener.
    const served = (request.method === 'GET' || request.method === 'HEAD') && (path !== '/metrics' || rules.metricsServed);
    return served ? { kind: 'endpoint', endpoint: path as Endpoint, path, query } : refused('TG_ERR_ROUTE_NOT_FOUND', path, query, undefined);
  }
  const match = rules.table.match(path, request.method, request.host);
  if (match.route === undefined) return refused(match.refusal, path, query, match.refusal === 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED' ? match.on : undefined);
  if (tooLarge) return refused('TG_ERR_REQUEST_BODY_TOO_LARGE', path, query, match.route);
  return { kind: 'route', route: match.route, path, query };
}

function refused(refusal: AdmissionRefusal, path: string, query: string, on: RouteConfig | undefined, reason?: string): Admission {
  return { kind: 'refused', refusal, on, reason, path, query };
}
