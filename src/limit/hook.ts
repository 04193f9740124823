import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { LimitDecision } from './decision.js';
import type { LimitStore } from './stores/store.js';
import { identifyClient } from './keys.js';
import { writeLimitHeaders } from './headers.js';
import { sendGatewayError } from '../respond.js';

/**
 * The last step of the gateway's onRequest hook (server.ts): takes a token for (route policy, client) and either
 * lets the request through to its proxy or answers 429 without touching the
 * upstream. A synchronous store (memory) costs no promise on the hot path.
 */
export function createLimitHook(store: LimitStore, onLimited: (route: string) => void) {
  return function limitHook(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const state = request.gateway;
    const route = state.route;
    const policy = route?.policy;
    if (!route || !policy) return done();
    const client = identifyClient(request.raw, policy.key, state.clientIp);
    state.client = client;
    const apply = (decision: LimitDecision): void => {
      state.decision = decision;
      if (decision.reason === 'store_unavailable') {
        // on_error open: pass without headers (there are no numbers to tell); closed: 503.
        if (decision.allowed) return done();
        return sendGatewayError(reply, 'TG_ERR_LIMIT_STORE_UNAVAILABLE');
      }
      writeLimitHeaders(reply, decision);
      if (decision.allowed) return done();
      onLimited(route.path);
      sendGatewayError(reply, 'TG_ERR_LIMIT_EXCEEDED', { retry_after: decision.retryAfterSeconds });
    };
    const decision = store.consume(policy, client.key);
    if (decision instanceof Promise) decision.then(apply, done);
    else apply(decision);
  };
}
