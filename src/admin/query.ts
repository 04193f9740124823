import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from '../config/types.js';
import type { AdminDeps } from './app.js';
import { explain, type ExplainContext } from './explain.js';
import { errorResponse, explainQuery, explainResponse, routesResponse } from './schemas.js';
import { specView } from './views.js';
import { liveEngine } from './adaptive.js';
import { monotonicClock } from '../limit/stores/store.js';

type View = () => { config: GatewayConfig; explain: ExplainContext };

/** GET /v1/routes and GET /v1/explain: what the live config says, and what it does to one request. */
export function registerQueryRoutes(app: FastifyInstance, deps: AdminDeps, view: View): void {
  app.get('/v1/routes', { schema: { response: { 200: routesResponse, 401: errorResponse } } }, async () => {
    const { config } = view();
    return {
      routes: config.routes.map((r) => ({
        index: r.index,
        path: r.path,
        host: r.host,
        methods: r.methods,
        upstream: r.upstream.targets.map((t) => t.url),
        strip_prefix: r.stripPrefix,
        cost: r.cost,
        require_api_key: r.requireApiKey,
        policy: r.policy && {
          id: r.policy.id,
          limits: r.policy.limits.map(specView),
          key: r.policy.key.map((k) => (k.kind === 'ip' ? 'ip' : k.kind === 'jwt' ? `jwt:${k.claim}` : `${k.kind}:${k.name}`)),
          on_limit: r.policy.onLimit && { delay_up_to_ms: r.policy.onLimit.delayUpToMs, max_queue: r.policy.onLimit.maxQueue },
        },
      })),
      plans: Object.fromEntries(Object.entries(config.plans).map(([name, limits]) => [name, limits.map(specView)])),
    };
  });

  app.get<{ Querystring: Record<string, string> }>('/v1/explain', { schema: { querystring: explainQuery, response: { 200: explainResponse, 400: errorResponse, 401: errorResponse } } }, async (request) => {
    const q = request.query;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(q)) if (name.startsWith('header.')) headers[name.slice(7).toLowerCase()] = value;
    const { explain: ctx } = view();
    const engine = liveEngine(deps.adaptive, ctx.config);
    const live = { store: deps.store, overrides: deps.overrides, readiness: deps.readiness, risk: engine === null ? null : { engine, clock: deps.adaptiveClock ?? monotonicClock } };
    return explain(ctx, { method: q.method ?? 'GET', path: q.path as string, headers, ip: q.ip ?? '127.0.0.1', host: q.host }, live);
  });
}
