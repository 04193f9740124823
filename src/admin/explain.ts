import type { IncomingMessage } from 'node:http';
import type { GatewayConfig, LimitSet, RouteConfig } from '../config/types.js';
import { admissionRules, admit, type AdmissionRules } from '../routing/admission.js';
import { probeAnswer, type ProbeBody, type ReadinessProbe } from '../observability/endpoints.js';
import { identifyClient, type ClientIdentity } from '../limit/keys.js';
import { gateOf, type Gate } from '../limit/gate.js';
import { ApiKeyIndex, type ApiKeyLookup } from '../limit/api-keys.js';
import { createJwtVerifier } from '../limit/jwt.js';
import { checkOf, limitSetFor, waitOf } from '../limit/sets.js';
import { summarise } from '../limit/decision.js';
import type { Overrides } from '../limit/overrides.js';
import type { LimitStore, LimitStep } from '../limit/stores/store.js';
import { ERRORS } from '../errors.js';
import { describeOverride, limitView, type LimitView } from './views.js';
import type { AdaptiveEngine, Assessment } from '../adaptive/engine.js';
import { scaledSet } from '../adaptive/scaled-set.js';
import { accessMatcherOf } from '../limit/access.js';

/** The status the gateway answers each gate with (limit/hook.ts). */
const GATE_STATUS: Readonly<Record<Gate, number>> = { denied: 403, blocked: 403, invalid_api_key: 401, bypassed: 200 };

/** A request to explain, as the admin API's query or the CLI's arguments give it. */
export interface ExplainInput {
  readonly method: string;
  readonly path: string;
  /** Its headers; `content-length` is the declared body size (413 over server.max_body_bytes). */
  readonly headers: Readonly<Record<string, string>>;
  readonly ip: string;
  readonly host?: string;
}

type RouteView = { path: string; index: number; host: string | null; upstream: string[]; policy: string | null; cost: number };

export interface Explanation {
  readonly request: { method: string; path: string; ip: string };
  readonly route: RouteView | null;
  /**
   * Why no route serves it: the catalogue's name of an admission refusal
   * (bad_request, not_found, method_not_allowed, payload_too_large), or, for
   * the gateway's own endpoints, reserved (answered) or not_ready (/ready's 503).
   */
  readonly refusal: string | null;
  /** The body /health or /ready would answer, as the endpoint itself computes it. */
  readonly answer: ProbeBody | null;
  /** Who the gateway takes the client for: its log label, never a raw key. */
  readonly client: { label: string; key_id: string | null; plan: string | null; verified: boolean } | null;
  readonly override: ReturnType<typeof describeOverride>;
  /** The access-log decision the gateway would make now, and its status. */
  readonly decision: string;
  readonly status: number;
  readonly limits: (LimitView & { allowed: boolean })[];
  /** Adaptive protection's assessment of the client now, as the request path would make it (nothing changed); null when off or not assessed. */
  readonly risk: Pick<Assessment, 'score' | 'band' | 'top'> & { reason: string | null } | null;
}

/** One config's lookups, built once: the request path builds the same per app. */
export interface ExplainContext {
  readonly config: GatewayConfig;
  readonly rules: AdmissionRules;
  readonly apiKeys: ApiKeyLookup | null;
  readonly jwt: ReturnType<typeof createJwtVerifier> | null;
}

/** `storeKeys`: the key store's copy of its keys, with key_store postgres (the running gateway's; offline, none). */
export function explainContext(config: GatewayConfig, storeKeys?: ApiKeyLookup): ExplainContext {
  return {
    config,
    rules: admissionRules(config),
    apiKeys: storeKeys ?? (config.apiKeys.length > 0 ? new ApiKeyIndex(config.apiKeys) : null),
    jwt: config.jwt ? createJwtVerifier(config.jwt) : null,
  };
}

/** What explain reads of the running gateway (offline: of a fresh one). */
export interface ExplainLive {
  readonly store: LimitStore;
  readonly overrides: Overrides;
  readonly readiness: ReadinessProbe;
  /** The engine when the live config has adaptive protection on, and its clock (the request path's). */
  readonly risk?: { readonly engine: AdaptiveEngine; readonly clock: () => number } | null;
}

/**
 * What the gateway would do with this request now, through the request
 * path's own decisions: admission (routing/admission.ts: 400, 404, 405,
 * 413), the answer of its own endpoints (observability/endpoints.ts: /ready's
 * 503), the gates (limit/gate.ts: 403, 401) and the limits, read by a dry
 * run: nothing is consumed. The answer to "why did this get a 429".
 */
export async function explain(ctx: ExplainContext, input: ExplainInput, live: ExplainLive): Promise<Explanation> {
  const method = input.method.toUpperCase();
  const request = { method, path: input.path, ip: input.ip };
  const headers = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const admission = admit({ method, target: input.path, host: input.host ?? headers.host ?? '', contentLength: headers['content-length'] }, ctx.rules);
  if (admission.kind === 'refused') {
    const { error, status } = ERRORS[admission.refusal];
    // A 405's route takes other methods, not this one: only a 413 names the route that would have taken it.
    const shown = admission.refusal === 'TG_ERR_REQUEST_BODY_TOO_LARGE' ? admission.on : undefined;
    return unrouted(request, admission.on, shown, error, status);
  }
  if (admission.kind === 'endpoint') {
    if (admission.endpoint === '/metrics') return unrouted(request, undefined, undefined, 'reserved', 200);
    const { status, body } = probeAnswer(admission.endpoint, live.readiness);
    return { ...unrouted(request, undefined, undefined, status === 200 ? 'reserved' : 'not_ready', status), answer: body };
  }
  const route = admission.route;
  const client = identifyClient({ headers } as unknown as IncomingMessage, admission.query, route.identity.key, input.ip, route.identity.ipv6Subnet, {
    apiKeys: ctx.apiKeys,
    jwt: ctx.jwt,
    now: Date.now(),
  });
  const override = live.overrides.get(client.label);
  let risk: Assessment | undefined;
  const done = (decision: string, status: number, limits: Explanation['limits'] = []): Explanation => ({
    request,
    route: routeView(route),
    refusal: null,
    answer: null,
    client: clientView(client),
    override: describeOverride(override?.override),
    decision,
    status,
    limits,
    risk: risk === undefined ? null : { score: risk.score, band: risk.band, reason: risk.reason ?? null, top: risk.top },
  });
  const gate = gateOf(route, client, input.ip, override);
  if (gate !== undefined) return done(gate, GATE_STATUS[gate]);
  // As limit/hook.ts: a route the hook reads no identity for, a route with adaptive: false and a client with an override are not assessed.
  const engine = live.risk?.engine;
  const identified = route.policy !== null || route.requireApiKey || !accessMatcherOf(route).empty;
  if (engine !== undefined && identified && route.adaptive && override === undefined) {
    risk = engine.peek(client.key, (live.risk as { clock: () => number }).clock(), method, { headers }, input.ip);
  }
  const enforce = risk !== undefined && engine?.config.mode === 'enforce';
  if (enforce && risk?.band === 'blocked') return done('risk_blocked', 403);
  if (route.policy === null || route.limitSets === null) return done('unlimited', 200);
  const own: LimitSet = limitSetFor(route.limitSets, client, override);
  const set = enforce ? scaledSet(own, (risk as Assessment).limitFactor) : own;
  const outcome = await live.store.check(checkOf(set, client, route), { dryRun: true });
  const decision = summarise(route.policy, set, outcome);
  const limits = set.limits.map((l, i) => ({ ...limitView(l, outcome.steps[i] as LimitStep, route.cost), allowed: (outcome.steps[i] as LimitStep).allowed }));
  if (decision.reason === 'store_unavailable') return done(decision.allowed ? 'allowed_store_unavailable' : 'refused_store_unavailable', decision.allowed ? 200 : 503, limits);
  if (!decision.allowed) {
    // on_limit would hold it when the wait fits (the queue's length is not known here: it may still refuse).
    const onLimit = route.policy.onLimit;
    const wait = waitOf(set.limits, outcome, 0);
    if (onLimit !== null && outcome.reason === undefined && wait <= onLimit.delayUpToMs) return done('delayed', 200, limits);
    return done('limited', 429, limits);
  }
  return done(decision.shadowLimited ? 'shadow_limited' : 'allowed', 200, limits);
}

/**
 * An answer given before any client is identified. `logged` is the route the
 * access line names (a 405's or a 413's), whose lack of a policy the line
 * shows as `unlimited`; `shown` the route reported.
 */
function unrouted(request: Explanation['request'], logged: RouteConfig | undefined, shown: RouteConfig | undefined, refusal: string, status: number): Explanation {
  const decision = logged?.policy === null ? 'unlimited' : 'none';
  return { request, route: shown === undefined ? null : routeView(shown), refusal, answer: null, client: null, override: null, decision, status, limits: [], risk: null };
}

function routeView(route: RouteConfig): RouteView {
  return { path: route.path, index: route.index, host: route.host, upstream: route.upstream.targets.map((t) => t.url), policy: route.policy?.id ?? null, cost: route.cost };
}

function clientView(c: ClientIdentity): NonNullable<Explanation['client']> {
  return { label: c.label, key_id: c.keyId, plan: c.plan, verified: c.verified };
}
