import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from './metrics.js';

/** Whether the gateway can serve now; `store` says if limits come from the configured store or a fallback. */
export type ReadinessProbe = () => { ready: true; store: 'ok' | 'degraded' } | { ready: false; reason: string };

/** /health, /ready and /metrics: answered by the gateway itself, never proxied, never limited. */
export function registerEndpoints(app: FastifyInstance, metrics: GatewayMetrics, readiness: ReadinessProbe, options: { metrics?: boolean } = {}): void {
  app.get('/health', (_request, reply) => {
    reply.header('cache-control', 'no-store').send({ status: 'ok' });
  });
  app.get('/ready', (_request, reply) => {
    const r = readiness();
    reply.header('cache-control', 'no-store');
    if (r.ready) reply.send({ status: 'ready', store: r.store });
    else reply.code(503).send({ status: 'not_ready', reason: r.reason });
  });
  // admin.expose_metrics moves /metrics to the admin listener.
  if (options.metrics === false) return;
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store');
    return metrics.registry.metrics();
  });
}
