import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { Clock } from '../limit/stores/store.js';
import type { AdaptiveEngine } from './engine.js';
import { signalOf } from './signal.js';

/**
 * The onResponse hook that feeds each finished request to its client's
 * features: only requests a client identity was read for (a limited route,
 * or one with access rules), since the features are that identity's.
 */
export function createRiskObserver(engine: AdaptiveEngine, clock: Clock) {
  return function observeRisk(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const state = request.gateway;
    const client = state?.client;
    // A request shed for the upstream's sake (503 overloaded) says nothing about the client.
    if (client !== undefined && state.route?.adaptive === true && state.gate !== 'overloaded') {
      const decision = state.decision;
      engine.observe(
        signalOf({
          at: clock() - reply.elapsedTime,
          method: request.method,
          path: state.path,
          status: reply.statusCode,
          refused: decision !== undefined && !decision.allowed && decision.reason === undefined,
          headers: request.headers,
          clientIp: state.clientIp,
          clientKey: client.key,
          set: state.limitSet,
        }),
      );
    }
    done();
  };
}
