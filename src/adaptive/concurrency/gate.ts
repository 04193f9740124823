import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../../limit/stores/store.js';
import { sendGatewayError } from '../../respond.js';
import { admissionBand, type RouteConcurrency } from './admission.js';
import type { ConcurrencyMetrics } from './metrics.js';

export interface ConcurrencyGateOptions {
  /** The `route` metric label. */
  readonly route: string;
  readonly limiter: RouteConcurrency;
  readonly metrics: ConcurrencyMetrics;
  readonly clock: Clock;
  /** adaptive: mode is enforce: bands order admission (otherwise every request counts as normal). */
  readonly enforce: boolean;
}

/**
 * The last step before a route's request is forwarded (proxy/upstream.ts's
 * preHandler, after the limit hook let it through): take a slot of the
 * route's adaptive concurrency limit for the request's band, or answer
 * `503 {"error":"overloaded"}` with `Retry-After: 1` (decision `overloaded` on
 * the access line). A slot is given back exactly once, when the response has
 * ended or the client has gone ('close' comes once, either way). Returns
 * whether the request may be forwarded.
 */
export function createConcurrencyGate(o: ConcurrencyGateOptions) {
  const { limiter, clock } = o;
  return function admitToUpstream(request: FastifyRequest, reply: FastifyReply): boolean {
    const res = reply.raw;
    // A client gone already (while held by on_limit) sends nothing upstream (forward.ts): no slot, and no 'close' to give one back.
    if (res.destroyed) return true;
    const state = request.gateway;
    const band = admissionBand(state.risk, o.enforce);
    const startedAt = clock();
    if (!limiter.tryAcquire(band, startedAt)) {
      state.gate = 'overloaded';
      o.metrics.countShed(o.route, band);
      reply.header('retry-after', '1');
      sendGatewayError(reply, 'TG_ERR_OVERLOADED');
      return false;
    }
    res.once('close', () => limiter.release(startedAt, clock(), res.writableFinished));
    return true;
  };
}
