import fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../observability/logging.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { registerEndpoints, type ReadinessProbe } from '../observability/endpoints.js';
import type { LimitStore } from '../limit/stores/store.js';
import type { Overrides } from '../limit/overrides.js';
import { AdminTokens, authenticate, isOpen, markOpen } from './auth.js';
import { AuthThrottle } from './auth-throttle.js';
import { DEFAULTS } from '../config/defaults.js';
import { explainContext, type ExplainContext } from './explain.js';
import { registerLimitRoutes } from './limits.js';
import { registerQueryRoutes } from './query.js';
import { openApiDocument } from './openapi.js';
import { adminClientError, adminError, adminErrorName } from './errors.js';
import type { AdaptiveAccess } from './adaptive.js';
import { registerClientRoutes } from './clients.js';
import type { Clock } from '../limit/stores/store.js';
import { registerKeyRoutes, type KeyAdmin } from '../keys/admin.js';
import { registerDashboard, type DashboardDeps } from '../dashboard/index.js';
import type { DashboardFeed } from '../dashboard/feed.js';
import { monotonicClock } from '../limit/stores/store.js';

/** What the admin API reads and changes: the gateway's live config, its store and overrides. */
export interface AdminDeps {
  readonly config: () => GatewayConfig;
  readonly store: LimitStore;
  readonly overrides: Overrides;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly readiness: ReadinessProbe;
  /** The throttle's clock (tests); Date.now by default. */
  readonly now?: () => number;
  /** Adaptive protection (the gateway's AdaptiveHolder); absent: no engine in this process, and its endpoints answer 409 adaptive_off. */
  readonly adaptive?: AdaptiveAccess;
  /** The engine's clock: the request path's (monotonicClock) by default, so features read as of the same instant. */
  readonly adaptiveClock?: Clock;
  /** The request path's tap for the dashboard (the gateway's, or the primary's gathered from its workers). */
  readonly dashboardFeed?: DashboardFeed;
  /** The primary of workers: where the dashboard's counters and feeds come from (dashboard/index.ts). */
  readonly dashboardCluster?: DashboardDeps['cluster'];
  /** The key store (key_store.type postgres): /v1/keys manages it, and `id:` forms name its keys. Absent: /v1/keys answers 409 key_store_off. */
  readonly keys?: KeyAdmin;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the admin token that authenticated the call (audit lines name it). */
    adminId: string;
  }
}

/**
 * The admin API: its own Fastify app on its own listener (admin.host:port),
 * never reachable through the gateway's port. Every call needs a bearer
 * token except the routes registered as open, /health, /ready and (with
 * expose_metrics) /metrics, as on the gateway port. The check runs after
 * routing, on the route found, so no spelling of a path (percent-encoded,
 * absolute form...) reaches a route without it, and an unknown path without
 * a token is 401, not 404. Bodies and queries are validated by the JSON
 * schemas in schemas.ts, which openapi.ts also publishes.
 */
export async function buildAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  const app = fastify({
    logger: false,
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false } },
    bodyLimit: 64 * 1024,
    // A client key may be 512 characters (schemas.ts): the router's default (100, decoded) answered 414 below that.
    // Above 512, so the schema refuses a longer key with a 400 naming it.
    routerOptions: { maxParamLength: 1024 },
    // Errors met before a route is found answer in the admin format too, the token still asked for first.
    frameworkErrors: (error, request, reply) => {
      const status = error.statusCode === 414 ? 414 : 400; // a parameter over maxParamLength, or a malformed URL
      if (authenticate(request, reply, live().auth)) adminError(reply, status, adminErrorName(status), { problems: [{ path: '', message: error.message }] });
    },
    clientErrorHandler: adminClientError,
  });
  // One throttle for the app's life: a reload must not forgive an address its failures.
  const throttle = new AuthThrottle(deps.now);
  const defaultLimit = { burst: DEFAULTS.admin.auth_failures.burst, perMinute: DEFAULTS.admin.auth_failures.per_minute };
  const lookups = (config: GatewayConfig) => ({
    config,
    auth: { tokens: new AdminTokens(config.admin?.tokens ?? []), throttle, limit: config.admin?.authFailures ?? defaultLimit, logger: deps.logger },
    explain: explainContext(config, deps.keys?.table),
  });
  let current = lookups(deps.config());
  // The lookups follow the live config: rebuilt once per reload, not per call.
  const live = () => {
    const config = deps.config();
    if (config !== current.config) current = lookups(config);
    return current;
  };
  app.decorateRequest('adminId', '');
  // An empty body with a JSON content type (curl -H 'content-type: application/json' -X DELETE) is no body, not an error.
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    if (body === '') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  // The web dashboard (admin.dashboard, on by default): its pages check their own session.
  const dashboard =
    deps.config().admin?.dashboard === false
      ? undefined
      : registerDashboard(app, {
          config: deps.config,
          auth: () => live().auth,
          store: deps.store,
          overrides: deps.overrides,
          metrics: deps.metrics,
          logger: deps.logger,
          adaptive: deps.adaptive,
          storeKeys: deps.keys?.table,
          feed: deps.dashboardFeed,
          cluster: deps.dashboardCluster,
          adaptiveClock: deps.adaptiveClock ?? monotonicClock,
        });
  // Before the listener closes: an open stream never ends on its own, and would hold the close (and the port) forever.
  if (dashboard !== undefined) app.addHook('preClose', (done) => {
    dashboard.close();
    done();
  });
  // onRequest runs after routing: the decision is the found route's, never the raw URL's.
  // A bearer token wins; without one, a dashboard session (with its CSRF token for changes) stands in for it.
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    if (isOpen(request)) return done();
    if (dashboard !== undefined && request.headers.authorization === undefined) {
      const session = dashboard.authorize(request, reply);
      if (session === 'ok') return done();
      if (session === 'answered') return;
    }
    if (authenticate(request, reply, live().auth)) done();
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.validation) {
      const problems = error.validation.map((v) => ({ path: fieldPath(v.instancePath, v.params), message: v.message ?? 'is invalid' }));
      return adminError(reply, 400, 'bad_request', { problems });
    }
    if (error.statusCode !== undefined && error.statusCode < 500) return adminError(reply, error.statusCode, adminErrorName(error.statusCode), { problems: [{ path: '', message: error.message }] });
    deps.logger.error({ err: error }, 'admin: internal error');
    adminError(reply, 500, 'internal_error');
  });
  app.setNotFoundHandler((_request, reply) => adminError(reply, 404, 'not_found'));
  await app.register(async (open) => {
    open.addHook('onRoute', markOpen);
    registerEndpoints(open, deps.metrics, deps.readiness, { metrics: deps.config().admin?.exposeMetrics === true });
  });
  const view = (): { config: GatewayConfig; explain: ExplainContext } => live();
  registerLimitRoutes(app, deps, view);
  registerQueryRoutes(app, deps, view);
  registerClientRoutes(app, deps, view);
  registerKeyRoutes(app, deps);
  app.get('/v1/openapi.json', async () => openApiDocument());
  await app.ready();
  return app;
}

/** `/requests_per_second` -> `requests_per_second`; a missing property names itself. */
function fieldPath(instancePath: string, params: Record<string, unknown>): string {
  const base = instancePath.replace(/^\//, '').replace(/\//g, '.');
  const child = (params.missingProperty ?? params.additionalProperty) as string | undefined;
  return child === undefined ? base : base ? `${base}.${child}` : child;
}
