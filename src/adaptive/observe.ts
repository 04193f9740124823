import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Clock } from '../limit/stores/store.js';
import type { LimitSet } from '../config/types.js';
import type { AdaptiveEngine } from './engine.js';
import { networkOf, signalOf } from './signal.js';
import { scaledSet } from './scaled-set.js';
import type { WeakLabeller } from './weak-labels.js';
import type { RequestState } from '../request-state.js';

/** The limits pressure is measured against: the band-scaled ones, in shadow too (the limits enforce would have held it to). */
function heldTo(state: RequestState): LimitSet | undefined {
  const set = state.limitSet;
  const risk = state.risk;
  if (set === undefined || risk === undefined || state.riskScaled || risk.band === 'blocked') return set;
  return scaledSet(set, risk.limitFactor);
}

const kNetwork = Symbol('throttlegate.network');
type Remembering = Socket & { [kNetwork]?: { ip: string; network: string } };

/** The client's network, remembered on its connection: keep-alive requests on one socket come from one address (bar a proxy's forwarding). */
function networkOfRequest(request: FastifyRequest, ip: string): string {
  const socket = request.raw.socket as Remembering | null;
  const known = socket?.[kNetwork];
  if (known !== undefined && known.ip === ip) return known.network;
  const network = networkOf(ip);
  if (socket) socket[kNetwork] = { ip, network };
  return network;
}

/**
 * The onResponse step (gateway/app.ts runs it in the access log's hook) that feeds each finished request to its client's
 * features: only requests a client identity was read for (a limited route,
 * or one with access rules), since the features are that identity's.
 */
export function createRiskObserver(engine: AdaptiveEngine, clock: Clock, weak: WeakLabeller | null = null) {
  return function observeRisk(request: FastifyRequest, reply: FastifyReply): void {
    const state = request.gateway;
    const client = state?.client;
    // A request shed for the upstream's sake (503 overloaded) says nothing about the client. One its band
    // blocked (or, in shadow, would have) is not observed either: enforce never learns the upstream's answer
    // to it, so neither does shadow, and both modes see the same features and move bands alike.
    const action = state?.riskAction;
    if (client !== undefined && (action === 'blocked' || action === 'would_block')) return engine.tally(client.key, action === 'blocked');
    if (client !== undefined && state.route?.adaptive === true && state.gate !== 'overloaded') {
      const decision = state.decision;
      // A request shadow says enforce would have refused is observed as enforce would have seen it: a 429, never
      // the upstream's answer, so a shadow run's features (and bands) stay those of an enforce run.
      const wouldLimit = action === 'would_limit';
      const status = wouldLimit ? 429 : reply.statusCode;
      engine.observe(
        signalOf({
          at: clock() - reply.elapsedTime,
          method: request.method,
          path: state.path,
          status,
          refused: wouldLimit || (decision !== undefined && !decision.allowed && decision.reason === undefined),
          rawHeaders: request.raw.rawHeaders,
          network: networkOfRequest(request, state.clientIp),
          clientKey: client.key,
          set: heldTo(state),
        }),
      );
      // A login route's answer, as enforce would have seen it (a would-be 429 says nothing of the credentials).
      if (weak !== null && state.route.login) weak.noteLogin(client.key, client.label, status);
    }
  };
}
