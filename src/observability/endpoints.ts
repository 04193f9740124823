import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from './metrics.js';
import type { StoreHealth } from '../limit/stores/store.js';

/** Whether the gateway can serve now; `store` says if limits come from the configured store or a fallback. */
export type ReadinessProbe = () => { ready: true; store: 'ok' | 'degraded' } | { ready: false; reason: string };

/** The gateway's readiness: not while shutting down, nor while its store is down (on_error: closed). */
export function storeReadiness(store: { health(): StoreHealth }, shuttingDown: () => boolean): ReadinessProbe {
  return () => {
    if (shuttingDown()) return { ready: false, reason: 'shutting_down' };
    const health = store.health();
    return health === 'down' ? { ready: false, reason: 'store_unavailable' } : { ready: true, store: health };
  };
}

/** What /health and /ready answer. */
export type ProbeBody = { status: 'ok' } | { status: 'ready'; store: 'ok' | 'degraded' } | { status: 'not_ready'; reason: string };

/**
 * The answer to GET /health (always 200: the process serves) or GET /ready
 * (503 while the probe says not ready). One function for the endpoints and
 * explain (admin/explain.ts), so they cannot disagree.
 */
export function probeAnswer(path: '/health' | '/ready', readiness: ReadinessProbe): { status: 200 | 503; body: ProbeBody } {
  if (path === '/health') return { status: 200, body: { status: 'ok' } };
  const r = readiness();
  return r.ready ? { status: 200, body: { status: 'ready', store: r.store } } : { status: 503, body: { status: 'not_ready', reason: r.reason } };
}

/** /health, /ready and /metrics: answered by the gateway itself, never proxied, never limited. */
export function registerEndpoints(app: FastifyInstance, metrics: GatewayMetrics, readiness: ReadinessProbe, options: { metrics?: boolean } = {}): void {
  for (const path of ['/health', '/ready'] as const) {
    app.get(path, (_request, reply) => {
      const answer = probeAnswer(path, readiness);
      reply.code(answer.status).header('cache-control', 'no-store').send(answer.body);
    });
  }
  // admin.expose_metrics moves /metrics to the admin listener.
  if (options.metrics === false) return;
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store');
    return metrics.render();
  });
}
