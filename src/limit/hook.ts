import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify';
import type { LimitPolicy, LimitSet, RouteConfig } from '../config/types.js';
import { summarise, type LimitDecision } from './decision.js';
import type { Clock, LimitCheck, LimitOutcome, LimitStore } from './stores/store.js';
import { identifyClient, type ClientIdentity } from './keys.js';
import { accessMatcherOf } from './access.js';
import { gateOf } from './gate.js';
import type { ApiKeyLookup } from './api-keys.js';
import type { JwtVerifier } from './jwt.js';
import { DelayQueues } from './queue.js';
import type { Overrides } from './overrides.js';
import { checkOf, limitSetFor, waitOf } from './sets.js';
import { sendGatewayError } from '../respond.js';
import type { AdaptiveEngine, Assessment } from '../adaptive/engine.js';
import type { RequestState, RiskAction } from '../request-state.js';
import { MIRROR_PREFIX, mirrorSet, scaledSet } from '../adaptive/scaled-set.js';

/** What the limit step reports to metrics. `plan` is a configured plan name or `anonymous`: bounded. */
export interface LimitEvents {
  onLimited(route: string, plan: string): void;
  onShadowLimited(route: string, limit: string): void;
  onDelayed(route: string): void;
  /** Adaptive protection acted (limited, blocked) or, in shadow, would have (would_limit, would_block). */
  onAdaptive(route: string, band: string, action: RiskAction): void;
}

export interface LimitContext {
  readonly store: LimitStore;
  readonly apiKeys: ApiKeyLookup | null;
  readonly jwt: JwtVerifier | null;
  readonly clock: Clock;
  readonly events: LimitEvents;
  /** Per-client overrides set through the admin API. */
  readonly overrides: Overrides;
  /** Risk scores moving each client's own limits (adaptive:); null when off. */
  readonly adaptive: AdaptiveEngine | null;
  /** Told the id of each request's API key (the key store's usage counts); absent: nobody counts. */
  readonly onKeyUsed?: (keyId: string) => void;
}

/**
 * The last step of the gateway's onRequest hook (gateway/app.ts), in order:
 * who the client is (keys.ts) -> deny (403) -> require_api_key (401) ->
 * allow (bypass) -> every limit of the client's set at once (429, or held by
 * on_limit until it passes). A synchronous store (memory) costs no promise
 * on the hot path.
 */
export function createLimitHook(context: LimitContext) {
  const { store, events } = context;
  const queues = new DelayQueues(context.clock);

  return function limitHook(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const state = request.gateway;
    const route = state.route;
    if (route === undefined) return done();
    const policy = route.policy;
    const access = accessMatcherOf(route);
    if (policy === null && !route.requireApiKey && access.empty) return done();
    const client = identifyClient(request.raw, state.query, route.identity.key, state.clientIp, route.identity.ipv6Subnet, {
      apiKeys: context.apiKeys,
      jwt: context.jwt,
      now: context.clock(),
    });
    state.client = client;
    if (client.keyId !== null) context.onKeyUsed?.(client.keyId);
    // Overrides are keyed by label (every admin form resolves to it); a digest label is remembered so the admin API can read its state.
    if (client.key !== client.label) context.overrides.recent.note(client);
    const override = context.overrides.get(client.label);
    const gate = gateOf(route, client, state.clientIp, override);
    if (gate !== undefined) {
      state.gate = gate;
      if (gate === 'bypassed') return done();
      return sendGatewayError(reply, gate === 'invalid_api_key' ? 'TG_ERR_INVALID_API_KEY' : 'TG_ERR_ACCESS_DENIED');
    }
    // An operator's override wins over the score: a client with one is not assessed.
    const adaptive = context.adaptive;
    const risk = adaptive !== null && route.adaptive && override === undefined ? adaptive.assess(client.key, client.label, context.clock(), request.method, request.raw, state.clientIp) : undefined;
    state.risk = risk;
    const enforce = risk !== undefined && (adaptive as AdaptiveEngine).config.mode === 'enforce';
    if (risk?.band === 'blocked') {
      act(state, route, 'blocked', enforce ? 'blocked' : 'would_block');
      if (enforce) {
        state.gate = 'risk_blocked';
        return sendGatewayError(reply, 'TG_ERR_ACCESS_DENIED');
      }
    }
    if (policy === null || route.limitSets === null) return done();
    const own = limitSetFor(route.limitSets, client, override);
    const set = enforce && risk.band !== 'blocked' ? scaledSet(own, risk.limitFactor) : own;
    state.limitSet = set;
    state.riskScaled = set !== own;
    const check = checkOf(set, client, route);
    const outcome = store.check(check);
    // Shadow mode counts the band-scaled limits too, apart, so what it says enforce would do is what enforce does.
    const mirror = risk !== undefined && !enforce && risk.band !== 'blocked' ? mirrorCheck(own, risk.limitFactor, client, route) : undefined;
    // A synchronous store (memory) answers here: no closure, no promise on that path.
    if (outcome instanceof Promise || mirror instanceof Promise) {
      // One event-loop turn: the Redis store sends both in the same batch.
      Promise.all([outcome, mirror]).then(([o, m]) => {
        if (m !== undefined) judgeMirror(request, reply, m);
        first(request, reply, done, set, check, o);
      }, done);
      return;
    }
    if (mirror !== undefined) judgeMirror(request, reply, mirror);
    first(request, reply, done, set, check, outcome);
  };

  function mirrorCheck(own: LimitSet, factor: number, client: ClientIdentity, route: RouteConfig): LimitOutcome | Promise<LimitOutcome> | undefined {
    const mirror = mirrorSet(scaledSet(own, factor));
    if (mirror.limits.length === 0) return undefined;
    const key = MIRROR_PREFIX + client.key;
    return store.check({ group: mirror.group, limits: mirror.limits, keys: mirror.limits.map(() => key), cost: route.cost });
  }

  /**
   * Shadow mode: the mirror of the client's band-scaled limits refused, and
   * its band cuts limits: enforce would have answered 429 here. The mirror
   * advanced as enforce's state would have (it consumed only what enforce
   * would have let through), so this is enforce's answer, not a guess.
   */
  function judgeMirror(request: FastifyRequest, reply: FastifyReply, outcome: LimitOutcome): void {
    // A mirrored concurrency slot is held as the real one would be, and freed with the response.
    if (outcome.release) reply.raw.once('close', outcome.release);
    const state = request.gateway;
    const risk = state.risk as Assessment;
    if (risk.limitFactor < 1 && !outcome.allowed && outcome.reason === undefined) act(state, state.route as RouteConfig, risk.band, 'would_limit');
  }

  /** The store's first answer: settled, or (refused, with on_limit) held in the client's queue until it passes or cannot. */
  function first(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, set: LimitSet, check: LimitCheck, outcome: LimitOutcome): void {
    const route = request.gateway.route as RouteConfig;
    const onLimit = (route.policy as LimitPolicy).onLimit;
    if (outcome.allowed || onLimit === null || outcome.reason !== undefined) return settle(request, reply, done, set, outcome);
    const arrived = context.clock();
    const cancel = queues.enqueue(`${set.group}\u0000${(request.gateway.client as ClientIdentity).key}`, onLimit.maxQueue, outcome, {
      attempt: () => store.check(check),
      waitOf: (o, ahead) => waitOf(set.limits, o, ahead),
      cost: route.cost,
      deadline: arrived + onLimit.delayUpToMs,
      finish: (o) => {
        reply.raw.off('close', cancel as () => void);
        if (o.allowed) {
          request.gateway.delayedMs = context.clock() - arrived;
          events.onDelayed(route.path);
        }
        settle(request, reply, done, set, o);
      },
    });
    if (cancel === undefined) return settle(request, reply, done, set, outcome);
    // A client that goes away while held leaves the queue.
    reply.raw.once('close', cancel);
  }

  /**
   * The decision, on the request state (the access line, and the limit
   * headers every answer carries: the proxy's response head or
   * sendGatewayError): go on, 429, or when the store is unreachable, what
   * on_error says.
   */
  function settle(request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, set: LimitSet, outcome: LimitOutcome): void {
    const state = request.gateway;
    const route = state.route as RouteConfig;
    const decision = summarise(route.policy as LimitPolicy, set, outcome);
    state.decision = decision;
    // 'close' comes once the response has ended or the client has gone: either way the slot is free.
    if (outcome.release) reply.raw.once('close', outcome.release);
    if (decision.reason === 'store_unavailable') {
      // on_error open: pass without headers (there are no numbers to tell); closed: 503.
      if (decision.allowed) return done();
      return sendGatewayError(reply, 'TG_ERR_LIMIT_STORE_UNAVAILABLE');
    }
    if (decision.shadowLimited) countShadow(route, decision);
    // Refused by limits its band cut: adaptive protection acted (shadow's would_limit came from the mirror).
    const risk = state.risk;
    if (state.riskScaled && !decision.allowed && outcome.reason === undefined && risk !== undefined && risk.limitFactor < 1) act(state, route, risk.band, 'limited');
    if (decision.allowed) return done();
    events.onLimited(route.path, set.plan ?? 'anonymous');
    sendGatewayError(reply, 'TG_ERR_LIMIT_EXCEEDED', { retry_after: decision.retryAfterSeconds });
  }

  function act(state: RequestState, route: RouteConfig, band: string, action: RiskAction): void {
    state.riskAction = action;
    events.onAdaptive(route.path, band, action);
  }

  function countShadow(route: RouteConfig, decision: LimitDecision): void {
    decision.set.limits.forEach((l, i) => {
      if (l.mode === 'shadow' && !decision.steps[i]?.allowed) events.onShadowLimited(route.path, l.id);
    });
  }
}
