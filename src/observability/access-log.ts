import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from './logging.js';
import { NO_ROUTE, type GatewayMetrics } from './metrics.js';

/**
 * onResponse hook: one metric observation and one log line per request. The
 * line names the route, never a raw key: `client` is `ip:<addr>` or
 * `key:<sha256 prefix>`, and the path is logged without its query string,
 * which often carries tokens.
 */
export function createAccessLog(logger: Logger, metrics: GatewayMetrics) {
  return function accessLog(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const state = request.gateway;
    const route = state?.route;
    const routeLabel = route ? route.path : NO_ROUTE;
    const status = reply.statusCode;
    const ms = reply.elapsedTime;
    metrics.observeRequest(routeLabel, request.method, status, ms / 1000);
    const failure = state?.upstreamError;
    const internal = state?.internalError;
    const level = internal ? 'error' : failure || status >= 500 ? 'warn' : 'info';
    if (logger.isLevelEnabled(level)) {
      logger[level](
        {
          reqId: request.id,
          method: request.method,
          path: state?.path ?? '',
          route: routeLabel,
          client: state?.client?.label ?? `ip:${request.ip}`,
          decision: state?.decision ? (state.decision.allowed ? 'allowed' : 'limited') : route && !route.policy ? 'unlimited' : 'none',
          status,
          duration_ms: Math.round(ms * 1000) / 1000,
          upstream: route?.upstreamOrigin,
          upstream_error: failure?.reason,
          err: internal,
        },
        'request',
      );
    }
    done();
  };
}
