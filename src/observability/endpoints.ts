import type { FastifyInstance } from 'fastify';
import type { GatewayMetrics } from './metrics.js';

/** Why the gateway cannot serve right now, or undefined when it can. */
export type ReadinessProbe = () => string | undefined;

/** /health, /ready and /metrics: answered by the gateway itself, never proxied, never limited. */
export function registerEndpoints(app: FastifyInstance, metrics: GatewayMetrics, notReadyReason: ReadinessProbe): void {
  app.get('/health', (_request, reply) => {
    reply.header('cache-control', 'no-store').send({ status: 'ok' });
  });
  app.get('/ready', (_request, reply) => {
    const reason = notReadyReason();
    reply.header('cache-control', 'no-store');
    if (reason === undefined) reply.send({ status: 'ready' });
    else reply.code(503).send({ status: 'not_ready', reason });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', metrics.registry.contentType).header('cache-control', 'no-store');
    return metrics.registry.metrics();
  });
}
