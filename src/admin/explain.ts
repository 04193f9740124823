import type { IncomingMessage } from 'node:http';
import type { GatewayConfig, LimitSet } from '../config/types.js';
import { RESERVED_PATHS } from '../config/validate.js';
import { normaliseTarget } from '../routing/normalise.js';
import { RouteTable } from '../routing/table.js';
import { identifyClient, type ClientIdentity } from '../limit/keys.js';
import { gateOf, type Gate } from '../limit/gate.js';
import { ApiKeyIndex } from '../limit/api-keys.js';
import { createJwtVerifier } from '../limit/jwt.js';
import { checkOf, limitSetFor, waitOf } from '../limit/sets.js';
import { summarise } from '../limit/decision.js';
import type { Overrides } from '../limit/overrides.js';
import type { LimitStore, LimitStep } from '../limit/stores/store.js';
import { ERRORS } from '../errors.js';
import { describeOverride, limitView, type LimitView } from './views.js';

/** The status the gateway answers each gate with (limit/hook.ts). */
const GATE_STATUS: Readonly<Record<Gate, number>> = { denied: 403, blocked: 403, invalid_api_key: 401, bypassed: 200 };

/** A request to explain, as the admin API's query or the CLI's arguments give it. */
export interface ExplainInput {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly ip: string;
  readonly host?: string;
}

export interface Explanation {
  readonly request: { method: string; path: string; ip: string };
  readonly route: { path: string; index: number; host: string | null; upstream: string[]; policy: string | null; cost: number } | null;
  readonly refusal: string | null;
  /** Who the gateway takes the client for: its log label, never a raw key. */
  readonly client: { label: string; key_id: string | null; plan: string | null; verified: boolean } | null;
  readonly override: ReturnType<typeof describeOverride>;
  /** The access-log decision the gateway would make now, and its status. */
  readonly decision: string;
  readonly status: number;
  readonly limits: (LimitView & { allowed: boolean })[];
}

/** One config's lookups, built once: the request path builds the same per app. */
export interface ExplainContext {
  readonly config: GatewayConfig;
  readonly table: RouteTable;
  readonly apiKeys: ApiKeyIndex | null;
  readonly jwt: ReturnType<typeof createJwtVerifier> | null;
}

export function explainContext(config: GatewayConfig): ExplainContext {
  return {
    config,
    table: new RouteTable(config.routes),
    apiKeys: config.apiKeys.length > 0 ? new ApiKeyIndex(config.apiKeys) : null,
    jwt: config.jwt ? createJwtVerifier(config.jwt) : null,
  };
}

/**
 * What the gateway would do with this request now, step by step as the
 * request path takes it (routing/hook.ts, limit/hook.ts), with the limits
 * read by a dry run: nothing is consumed. The answer to "why did this get a 429".
 */
export async function explain(ctx: ExplainContext, input: ExplainInput, store: LimitStore, overrides: Overrides): Promise<Explanation> {
  const method = input.method.toUpperCase();
  const request = { method, path: input.path, ip: input.ip };
  const unrouted = (refusal: string, status: number): Explanation => ({ request, route: null, refusal, client: null, override: null, decision: 'none', status, limits: [] });
  const target = normaliseTarget(input.path);
  if (!target.ok) return unrouted('bad_request', 400);
  if ((RESERVED_PATHS as readonly string[]).includes(target.path)) {
    // The gateway answers these itself, to GET and HEAD only, and /metrics not at all once admin.expose_metrics moved it (endpoints.ts).
    const served = (method === 'GET' || method === 'HEAD') && !(target.path === '/metrics' && ctx.config.admin?.exposeMetrics);
    return served ? unrouted('reserved', 200) : unrouted('not_found', 404);
  }
  const match = ctx.table.match(target.path, method, input.host ?? input.headers.host ?? '');
  if (match.route === undefined) {
    const refusal = match.refusal === 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED' ? 'method_not_allowed' : 'not_found';
    return unrouted(refusal, ERRORS[match.refusal].status);
  }
  const route = match.route;
  const routeView = {
    path: route.path,
    index: route.index,
    host: route.host,
    upstream: route.upstream.targets.map((t) => t.url),
    policy: route.policy?.id ?? null,
    cost: route.cost,
  };
  const headers = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const client = identifyClient({ headers } as unknown as IncomingMessage, target.query, route.identity.key, input.ip, route.identity.ipv6Subnet, {
    apiKeys: ctx.apiKeys,
    jwt: ctx.jwt,
    now: Date.now(),
  });
  const override = overrides.get(client.key);
  const done = (decision: string, status: number, limits: Explanation['limits'] = []): Explanation => ({
    request,
    route: routeView,
    refusal: null,
    client: clientView(client),
    override: describeOverride(override?.override),
    decision,
    status,
    limits,
  });
  const gate = gateOf(route, client, input.ip, override);
  if (gate !== undefined) return done(gate, GATE_STATUS[gate]);
  if (route.policy === null || route.limitSets === null) return done('unlimited', 200);
  const set: LimitSet = limitSetFor(route.limitSets, client, override);
  const outcome = await store.check(checkOf(set, client, route), { dryRun: true });
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

function clientView(c: ClientIdentity): NonNullable<Explanation['client']> {
  return { label: c.label, key_id: c.keyId, plan: c.plan, verified: c.verified };
}
