import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { GatewayConfig, RouteConfig, TrustProxy } from '../config/types.js';
import { admissionRules } from '../routing/admission.js';
import { admitRoute, createUrlRewriter } from '../routing/hook.js';
import { compileTrust } from '../routing/client-address.js';
import { createLimitHook } from '../limit/hook.js';
import { monotonicClock, type LimitStore } from '../limit/stores/store.js';
import { ApiKeyIndex } from '../limit/api-keys.js';
import { createJwtVerifier } from '../limit/jwt.js';
import type { Overrides } from '../limit/overrides.js';
import { registerUpstream, type UpstreamOptions } from '../proxy/upstream.js';
import type { UpstreamPool } from '../upstream/pool.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import type { Logger } from '../observability/logging.js';
import { createAccessLog } from '../observability/access-log.js';
import { registerEndpoints, type ReadinessProbe } from '../observability/endpoints.js';
import { frameworkErrorCode, sendGatewayError } from '../respond.js';
import '../request-state.js';
import type { AdaptiveHolder } from '../adaptive/holder.js';
import { createRiskObserver } from '../adaptive/observe.js';
import { weakLabellerFor } from '../adaptive/weak-labels.js';
import { feedbackSinks } from '../adaptive/feedback.js';
import { concurrencyRoutesFor, type ServedLimiter } from '../adaptive/concurrency/routes.js';
import { createConcurrencyGate } from '../adaptive/concurrency/gate.js';
import { beginTrace, ratioBound } from '../tracing/context.js';
import type { SpanExport } from '../tracing/spans.js';
import type { PostgresKeyStore } from '../keys/store.js';
import type { DashboardFeed } from '../dashboard/feed.js';

/** What every config generation shares: they outlive a reload. */
export interface Shared {
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly store: LimitStore;
  readonly overrides: Overrides;
  readonly readiness: ReadinessProbe;
  /** What the request path tells the dashboard (while one watches); null without the admin API's dashboard. */
  readonly dashboardFeed: DashboardFeed | null;
  /** The key store's copy of the keys (key_store.type postgres), kept across reloads; null: keys come from each config's api_keys. */
  readonly keys: PostgresKeyStore | null;
  /** Adaptive protection's engine, kept across reloads (each config says whether it is on). */
  readonly adaptive: AdaptiveHolder;
}

/** The Fastify app serving one config: its route table, hooks and upstream pools. */
export interface ConfigApp {
  readonly config: GatewayConfig;
  readonly app: FastifyInstance;
  /** Fastify's request handler (rewriteUrl, router, hooks); the shared listener calls it. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** Each route's upstream pool, by poolKey (a reload carries target health over from them). */
  readonly pools: ReadonlyMap<string, UpstreamPool>;
  /** Closes the upstream pools and health checks. Call once nothing is in flight on this app. */
  close(): Promise<void>;
}

// A client's X-Request-Id is kept when it is a sane token; anything else is replaced.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the app for one config. The request path, in order: rewriteUrl
 * (routing/admission.ts: canonical path, route table, declared body size) ->
 * one onRequest hook: its refusal (400/404/405/413), abort tracking, limit (429) -> the route's proxy
 * (adaptive concurrency slot, 503 overloaded; target choice, 503 when none) -> onResponse: metrics + log line. The
 * onRequest steps share one hook because each Fastify hook costs a turn of
 * its hook runner.
 *
 * The app never listens: the gateway's one listener (listener.ts) hands it
 * requests, so a reload can swap apps under open connections.
 */
export async function buildConfigApp(config: GatewayConfig, shared: Shared, previous?: ConfigApp): Promise<ConfigApp> {
  const { logger, metrics, store } = shared;
  const server = config.server;
  const rules = admissionRules(config);
  let handle: ConfigApp['handle'] | undefined;
  const addressing = { trust: compileTrust(server.trustProxy), onMalformedForwardedFor: () => metrics.countMalformedForwardedFor() };

  const app: FastifyInstance = fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // The gateway writes its own single access line per request (access-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: sharedChildLoggers(),
    trustProxy: fastifyTrust(server.trustProxy),
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    rewriteUrl: createUrlRewriter(rules),
    // A URL its router cannot decode, and the like: Fastify's own bodies show the internal mount path.
    frameworkErrors: (error, _request, reply) => sendGatewayError(reply, frameworkErrorCode(error)),
    bodyLimit: server.maxBodyBytes,
    // Fastify wants a server; this one never listens. The listener calls `handle`.
    serverFactory: (handler) => {
      handle = handler;
      return createServer();
    },
  });

  // Trace context is always on; spans are exported only with `tracing:`. OpenTelemetry's SDK is loaded then, and only then.
  const sampleBound = ratioBound(config.tracing?.sampleRatio ?? 0);
  const spans: SpanExport | null = config.tracing ? new (await import('../tracing/spans.js')).SpanExport(config.tracing, logger) : null;
  if (spans !== null) app.addHook('onClose', () => spans.shutdown());
  const accessLog = createAccessLog(logger, metrics, spans, shared.dashboardFeed);
  const adaptive = shared.adaptive.engineFor(config.adaptive);
  const adaptiveMetrics = shared.adaptive.metrics;
  app.decorateRequest('gateway', null as never);
  const keyUsage = shared.keys?.usage;
  const limit = createLimitHook({
    store,
    apiKeys: shared.keys?.table ?? (config.apiKeys.length > 0 ? new ApiKeyIndex(config.apiKeys) : null),
    onKeyUsed: keyUsage === undefined ? undefined : (id) => keyUsage.count(id),
    jwt: config.jwt ? createJwtVerifier(config.jwt) : null,
    clock: monotonicClock,
    overrides: shared.overrides,
    adaptive,
    events: {
      onLimited: (route, plan) => metrics.countRateLimited(route, plan),
      onShadowLimited: (route, limit) => metrics.countShadowLimited(route, limit),
      onDelayed: (route) => metrics.countDelayed(route),
      onAdaptive: (route, band, action) => adaptiveMetrics?.count(route, band, action),
    },
  });
  app.addHook('onRequest', (request, reply, done) => {
    const refusal = admitRoute(request, addressing);
    // Before any answer, so a refusal's access line (and span) carries the trace too.
    beginTrace(request.gateway, request.headers, sampleBound);
    if (refusal !== undefined) return sendGatewayError(reply, refusal);
    accessLog.track(request, reply);
    limit(request, reply, done);
  });
  // Every finished request feeds its client's features too, when adaptive: is on: in the same hook,
  // since each Fastify hook costs a turn of its runner per request.
  if (adaptive === null) app.addHook('onResponse', accessLog.onResponse);
  else {
    const weak = weakLabellerFor(adaptive, config.routes.some((r) => r.login), feedbackSinks(logger, adaptiveMetrics), monotonicClock);
    const observeRisk = createRiskObserver(adaptive, monotonicClock, weak);
    app.addHook('onResponse', (request, reply, done) => {
      observeRisk(request, reply);
      accessLog.onResponse(request, reply, done);
    });
  }

  app.setNotFoundHandler((_request, reply) => sendGatewayError(reply, 'TG_ERR_ROUTE_NOT_FOUND'));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const code = frameworkErrorCode(error);
    if (code !== 'TG_ERR_INTERNAL') return sendGatewayError(reply, code);
    if (request.gateway) request.gateway.internalError = error;
    else logger.error({ err: error }, 'internal error');
    sendGatewayError(reply, 'TG_ERR_INTERNAL');
  });

  registerEndpoints(app, metrics, shared.readiness, { metrics: rules.metricsServed });
  const pools = new Map<string, UpstreamPool>();
  // Routes with adaptive_concurrency: their limiters carry over a reload that keeps them (routes.ts).
  const concurrency = concurrencyRoutesFor(metrics.registry, config.routes.some((r) => r.adaptiveConcurrency));
  const limiters: ServedLimiter[] = [];
  try {
    for (const route of config.routes) {
      metrics.declareRoute(route.path);
      let admit: UpstreamOptions['admit'] = null;
      if (concurrency !== undefined && route.adaptiveConcurrency) {
        const limiter = concurrency.prepare(poolKey(route), route.adaptiveConcurrency, monotonicClock());
        limiters.push({ key: poolKey(route), route: route.path, limiter });
        admit = createConcurrencyGate({ route: route.path, limiter, metrics: concurrency.metrics, clock: monotonicClock, enforce: config.adaptive?.mode === 'enforce' });
      }
      const pool = await registerUpstream(app, route, {
        admit,
        maxBodyBytes: server.maxBodyBytes,
        metrics,
        logger,
        onUpstreamError: (r, reason) => metrics.countUpstreamError(r.path, reason),
        // Read once, to carry target health over. Nothing built here may keep `previous`
        // or its pools (no closure, no field): each app would keep its predecessor, so none could be collected.
        previousPool: previous?.pools.get(poolKey(route)),
      });
      pools.set(poolKey(route), pool);
    }
    await app.ready();
    concurrency?.publish(limiters);
  } catch (err) {
    // Pools and health checks already started belong to no one: close them before giving up.
    await app.close().catch(() => {});
    throw err;
  }
  if (handle === undefined) throw new Error('fastify did not call serverFactory');
  return { config, app, handle, pools, close: () => app.close() };
}

/** What identifies a route across configs: its path, host and methods (routes may share a path). */
function poolKey(route: RouteConfig): string {
  return JSON.stringify([route.path, route.host, route.methods]);
}

/**
 * Fastify builds a pino child per request (request.log) to bind its id: a
 * cost paid on every request for lines the gateway rarely writes (its access
 * line carries reqId itself). Children are shared, one per log level.
 */
function sharedChildLoggers() {
  const children = new Map<string, FastifyBaseLogger>();
  return (logger: FastifyBaseLogger, _bindings: unknown, options: { level?: string }): FastifyBaseLogger => {
    const level = options.level ?? '';
    let child = children.get(level);
    if (child === undefined) {
      child = level === '' ? logger : logger.child({}, { level });
      children.set(level, child);
    }
    return child;
  };
}

/**
 * Fastify's trustProxy, for request.protocol and request.host only (the
 * client address is routing/client-address.ts's): a hop count becomes "trust
 * the nearest N hops" (Fastify would trust none).
 */
function fastifyTrust(trust: TrustProxy): boolean | string[] | ((addr: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_addr, hop) => hop < trust;
  if (typeof trust === 'boolean') return trust;
  return [...trust];
}
