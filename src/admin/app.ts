import fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../observability/logging.js';
import type { GatewayMetrics } from '../observability/metrics.js';
import { registerEndpoints, type ReadinessProbe } from '../observability/endpoints.js';
import type { LimitStore } from '../limit/stores/store.js';
import type { Overrides } from '../limit/overrides.js';
import { AdminTokens } from './auth.js';
import { explainContext, type ExplainContext } from './explain.js';
import { registerLimitRoutes } from './limits.js';
import { registerQueryRoutes } from './query.js';
import { openApiDocument } from './openapi.js';
import { adminError } from './errors.js';

/** What the admin API reads and changes: the gateway's live config, its store and overrides. */
export interface AdminDeps {
  readonly config: () => GatewayConfig;
  readonly store: LimitStore;
  readonly overrides: Overrides;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
  readonly readiness: ReadinessProbe;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The id of the admin token that authenticated the call (audit lines name it). */
    adminId: string;
  }
}

/**
 * The admin API: its own Fastify app on its own listener (admin.host:port),
 * never reachable through the gateway's port. Every /v1 call needs a bearer
 * token; bodies and queries are validated by the JSON schemas in schemas.ts,
 * which openapi.ts also publishes. /health, /ready and (with
 * expose_metrics) /metrics answer without a token, as on the gateway port.
 */
export async function buildAdminApp(deps: AdminDeps): Promise<FastifyInstance> {
  const app = fastify({
    logger: false,
    ajv: { customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false } },
    bodyLimit: 64 * 1024,
    // A client key may be 512 characters (schemas.ts): the router's default (100, decoded) answered 414 below that.
    // Above 512, so the schema refuses a longer key with a 400 naming it.
    routerOptions: { maxParamLength: 1024 },
  });
  const tokens = () => new AdminTokens(deps.config().admin?.tokens ?? []);
  let current = { config: deps.config(), tokens: tokens(), explain: explainContext(deps.config()) };
  // The lookups follow the live config: rebuilt once per reload, not per call.
  const live = () => {
    const config = deps.config();
    if (config !== current.config) current = { config, tokens: tokens(), explain: explainContext(config) };
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
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done) => {
    if (!request.url.startsWith('/v1/')) return done();
    const id = live().tokens.identify(request.headers.authorization);
    if (id === undefined) return adminError(reply, 401, 'unauthorized');
    request.adminId = id;
    done();
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    if (error.validation) {
      const problems = error.validation.map((v) => ({ path: fieldPath(v.instancePath, v.params), message: v.message ?? 'is invalid' }));
      return adminError(reply, 400, 'bad_request', { problems });
    }
    if (error.statusCode !== undefined && error.statusCode < 500) return adminError(reply, error.statusCode, 'bad_request', { problems: [{ path: '', message: error.message }] });
    deps.logger.error({ err: error }, 'admin: internal error');
    adminError(reply, 500, 'internal_error');
  });
  app.setNotFoundHandler((_request, reply) => adminError(reply, 404, 'not_found'));
  if (deps.config().admin?.exposeMetrics) registerEndpoints(app, deps.metrics, deps.readiness);
  else registerHealth(app, deps.readiness);
  const view = (): { config: GatewayConfig; explain: ExplainContext } => live();
  registerLimitRoutes(app, deps, view);
  registerQueryRoutes(app, deps, view);
  app.get('/v1/openapi.json', async () => openApiDocument());
  await app.ready();
  return app;
}

function registerHealth(app: FastifyInstance, readiness: ReadinessProbe): void {
  app.get('/health', async () => ({ status: 'ok' }));
  app.get('/ready', async (_request, reply) => {
    const r = readiness();
    return r.ready ? { status: 'ready', store: r.store } : reply.code(503).send({ status: 'not_ready', reason: r.reason });
  });
}

/** `/requests_per_second` -> `requests_per_second`; a missing property names itself. */
function fieldPath(instancePath: string, params: Record<string, unknown>): string {
  const base = instancePath.replace(/^\//, '').replace(/\//g, '.');
  const child = (params.missingProperty ?? params.additionalProperty) as string | undefined;
  return child === undefined ? base : base ? `${base}.${child}` : child;
}
