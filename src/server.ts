import { randomUUID } from 'node:crypto';
import fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { GatewayConfig, TrustProxy } from './config/types.js';
import { RouteTable } from './routing/table.js';
import { admitRoute, createUrlRewriter } from './routing/hook.js';
import { createLimitHook } from './limit/hook.js';
import { createStore } from './limit/stores/create.js';
import type { LimitStore } from './limit/stores/store.js';
import { registerUpstream } from './proxy/upstream.js';
import { GatewayMetrics } from './observability/metrics.js';
import { createLogger, type Logger } from './observability/logging.js';
import { createAccessLog } from './observability/access-log.js';
import { registerEndpoints } from './observability/endpoints.js';
import { sendGatewayError } from './respond.js';
import './request-state.js';

export interface GatewayOptions {
  /** Defaults to a pino logger at config.log.level on stdout. */
  logger?: Logger;
  /** Defaults to the store config.store names. */
  store?: LimitStore;
  /** Overrides config.server.port (0 picks a free port: tests, demo). */
  port?: number;
  host?: string;
}

export interface Gateway {
  readonly app: FastifyInstance;
  readonly store: LimitStore;
  readonly metrics: GatewayMetrics;
  /** Starts listening; resolves to the base URL, e.g. `http://127.0.0.1:8080`. */
  listen(): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, closes upstream pools and the store. */
  close(): Promise<void>;
}

// A client's X-Request-Id is kept when it is a sane token; anything else is replaced.
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Builds the gateway from a frozen config. The request path, in order:
 * rewriteUrl (canonical path, route table) -> one onRequest hook: routing
 * (400/404/405), abort tracking, declared body size (413), limit (429) ->
 * the route's proxy -> onResponse: metrics + log line. The onRequest steps
 * share one hook because each Fastify hook costs a turn of its hook runner.
 */
export async function buildGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.log.level);
  // The gauge reads the store only when scraped; the store reports into the metrics.
  const metrics = new GatewayMetrics(() => store.size());
  const store: LimitStore = options.store ?? createStore(config, logger, metrics.storeEvents);
  const table = new RouteTable(config.routes);
  const server = config.server;
  let closing = false;

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
    rewriteUrl: createUrlRewriter(table),
    http: { maxHeaderSize: server.maxHeaderBytes },
    requestTimeout: server.requestTimeoutMs,
    keepAliveTimeout: server.keepAliveTimeoutMs,
    bodyLimit: server.maxBodyBytes,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  });
  // Slowloris: a client must finish sending headers within this time.
  app.server.headersTimeout = Math.min(server.headersTimeoutMs, server.requestTimeoutMs);

  const accessLog = createAccessLog(logger, metrics);
  app.decorateRequest('gateway', null as never);
  const limit = createLimitHook(store, (route) => metrics.countRateLimited(route));
  app.addHook('onRequest', (request, reply, done) => {
    const refusal = admitRoute(request);
    if (refusal !== undefined) return sendGatewayError(reply, refusal);
    accessLog.track(request, reply);
    // A declared length over the limit is refused before it costs a token or an upstream socket.
    const length = request.headers['content-length'];
    if (length !== undefined && Number(length) > server.maxBodyBytes) return sendGatewayError(reply, 'TG_ERR_REQUEST_BODY_TOO_LARGE');
    limit(request, reply, done);
  });
  app.addHook('onResponse', accessLog.onResponse);

  app.setNotFoundHandler((_request, reply) => sendGatewayError(reply, 'TG_ERR_ROUTE_NOT_FOUND'));
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status === 413) return sendGatewayError(reply, 'TG_ERR_REQUEST_BODY_TOO_LARGE');
    if (status >= 400 && status < 500) return sendGatewayError(reply, 'TG_ERR_REQUEST_BAD_PATH');
    if (request.gateway) request.gateway.internalError = error;
    else logger.error({ err: error }, 'internal error');
    sendGatewayError(reply, 'TG_ERR_INTERNAL');
  });

  registerEndpoints(app, metrics, () => {
    if (closing) return { ready: false, reason: 'shutting_down' };
    const health = store.health();
    return health === 'down' ? { ready: false, reason: 'store_unavailable' } : { ready: true, store: health };
  });
  for (const route of config.routes) {
    metrics.declareRoute(route.path);
    await registerUpstream(app, route, {
      maxBodyBytes: server.maxBodyBytes,
      onUpstreamError: (r, reason) => metrics.countUpstreamError(r.path, reason),
    });
  }
  app.addHook('onClose', async () => store.close());

  return {
    app,
    store,
    metrics,
    async listen() {
      await store.whenReady?.();
      return app.listen({ port: options.port ?? server.port, host: options.host ?? server.host });
    },
    async close() {
      closing = true;
      await app.close();
    },
  };
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

/** Fastify's trustProxy: a hop count becomes "trust the nearest N hops" (Fastify would trust none). */
function fastifyTrust(trust: TrustProxy): boolean | string[] | ((addr: string, hop: number) => boolean) {
  if (typeof trust === 'number') return (_addr, hop) => hop < trust;
  if (typeof trust === 'boolean') return trust;
  return [...trust];
}
