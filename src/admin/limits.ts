import type { FastifyInstance } from 'fastify';
import type { GatewayConfig, LimitPolicy, LimitSet, RouteConfig } from '../config/types.js';
import { parseDuration } from '../config/duration.js';
import { digestOf, unverifiedLabel, type ClientIdentity } from '../limit/keys.js';
import type { ActiveOverride, Override } from '../limit/overrides.js';
import { checkOf, limitSetFor } from '../limit/sets.js';
import { headerSeconds, summarise } from '../limit/decision.js';
import { writeLimitHeaders } from '../limit/headers.js';
import type { AdminDeps } from './app.js';
import type { ExplainContext } from './explain.js';
import { Ajv } from 'ajv';
import { blockOverrideBody, checkBody, checkResponse, clientKeyParam, errorResponse, limitOverrideBody, limitsResponse } from './schemas.js';
import { describeOverride, limitView } from './views.js';
import { adminError } from './errors.js';
import { RESERVED_FORM, resolveClientKey, type ResolvedClient } from './client-key.js';
import { learnFromOverride } from './adaptive.js';
import { monotonicClock, type LimitStep } from '../limit/stores/store.js';

type View = () => { config: GatewayConfig; explain: ExplainContext };

/** Headers for check answers: both families, as a route's policy sends them by default. */
const CHECK_POLICY: Pick<LimitPolicy, 'headers'> = { headers: { legacy: true, draft: true } };

/** GET/PUT/DELETE /v1/limits/:key and POST /v1/check: the limiter as a service. */
export function registerLimitRoutes(app: FastifyInstance, deps: AdminDeps, view: View): void {
  app.get<{ Params: { key: string } }>('/v1/limits/:key', { schema: { params: clientKeyParam, response: { 200: limitsResponse, 400: errorResponse, 401: errorResponse } } }, async (request, reply) => {
    const { config } = view();
    const resolved = resolveClientKey(request.params.key, config, deps.keys?.table);
    if ('error' in resolved) return adminError(reply, 400, 'bad_request', { message: resolved.error });
    return describeClientLimits(deps, config, resolved);
  });

  app.put<{ Params: { key: string }; Body: { requests_per_second?: number; burst?: number; block?: true; expires_in?: string } }>(
    '/v1/limits/:key',
    { schema: { params: clientKeyParam, response: { 400: errorResponse, 401: errorResponse } } },
    async (request, reply) => {
      const resolved = resolveClientKey(request.params.key, view().config, deps.keys?.table);
      if ('error' in resolved) return adminError(reply, 400, 'bad_request', { message: resolved.error });
      const key = resolved.label;
      const body = request.body;
      const problems = overrideProblems(body);
      if (problems.length > 0) return adminError(reply, 400, 'bad_request', { problems });
      const expiresAt = body.expires_in === undefined ? null : Date.now() + parseDuration(body.expires_in);
      const override: Override = body.block
        ? { kind: 'block', expiresAt, setBy: request.adminId }
        : { kind: 'limit', requestsPerSecond: body.requests_per_second as number, burst: body.burst as number, expiresAt, setBy: request.adminId };
      const previous = deps.overrides.get(key)?.override;
      const before = describeOverride(previous);
      await deps.overrides.set(key, override);
      const after = describeOverride(override);
      deps.logger.info({ audit: 'override_set', who: request.adminId, key, before, after }, `admin: ${request.adminId} set an override for ${key}`);
      // A block is a `bad` label, a raise a `good` one, for adaptive protection (adaptive.ts states the rule).
      const feedback = await learnFromOverride(deps, view().config, resolved, previous, override, request.adminId, (deps.adaptiveClock ?? monotonicClock)());
      return feedback === null ? { key, override: after } : { key, override: after, feedback };
    },
  );

  app.delete<{ Params: { key: string } }>('/v1/limits/:key', { schema: { params: clientKeyParam } }, async (request, reply) => {
    const resolved = resolveClientKey(request.params.key, view().config, deps.keys?.table);
    if ('error' in resolved) return adminError(reply, 400, 'bad_request', { message: resolved.error });
    const key = resolved.label;
    const before = describeOverride(deps.overrides.get(key)?.override);
    const removed = await deps.overrides.delete(key);
    if (!removed && before === null) return adminError(reply, 404, 'not_found', { key });
    deps.logger.info({ audit: 'override_deleted', who: request.adminId, key, before, after: null }, `admin: ${request.adminId} removed the override of ${key}`);
    return { key, removed: true };
  });

  app.post<{ Body: { key: string; policy?: string; cost?: number; dry_run?: boolean } }>(
    '/v1/check',
    { schema: { body: checkBody, response: { 200: checkResponse, 429: checkResponse, 400: errorResponse, 401: errorResponse } } },
    async (request, reply) => {
      const { config } = view();
      const { key, policy = 'default', cost = 1, dry_run: dryRun = false } = request.body;
      const base = policySet(config, policy);
      if (base === undefined) return adminError(reply, 404, 'unknown_policy', { policy, known: knownPolicies(config) });
      const client = checkClient(deps, config, key);
      if ('error' in client) return adminError(reply, 400, 'bad_request', { message: client.error });
      const override = deps.overrides.get(client.label);
      if (override?.override.kind === 'block') return adminError(reply, 403, 'forbidden');
      const set = override?.spec !== undefined ? limitSetFor({ anonymous: base.set, plans: {} }, client, override) : base.set;
      const outcome = await deps.store.check(checkOf(set, client, { path: base.routePath, cost } as RouteConfig), { dryRun });
      // A check holds no request open: a concurrency slot it took is given back at once (it asks "is there room").
      outcome.release?.();
      const decision = summarise(CHECK_POLICY as LimitPolicy, set, outcome);
      writeLimitHeaders(reply, decision);
      const headline = decision.headline === -1 ? undefined : (outcome.steps[decision.headline] as LimitStep);
      const body = {
        allowed: decision.allowed,
        remaining: headline?.remaining ?? 0,
        limit: decision.headline === -1 ? 0 : (set.limits[decision.headline]?.capacity ?? 0),
        reset: headline === undefined ? 0 : headerSeconds(headline.resetMs),
        retry_after: decision.retryAfterSeconds,
        policy: set.group,
      };
      return reply.code(decision.allowed ? 200 : 429).send(body);
    },
  );
}

/**
 * GET /v1/limits/:key's answer: the client's limit sets across routes, each
 * limit with its live state (a dry run: nothing consumed), and its override.
 * The dashboard's client page shows the same.
 */
export async function describeClientLimits(deps: Pick<AdminDeps, 'overrides' | 'store'>, config: GatewayConfig, resolved: ResolvedClient) {
  const override = deps.overrides.get(resolved.label);
  const { client, seen } = await liveClient(deps, config, resolved, override);
  const groups = new Map<string, { set: LimitSet; route: RouteConfig; routes: string[] }>();
  for (const route of config.routes) {
    if (route.limitSets === null) continue;
    const set = limitSetFor(route.limitSets, client, override);
    const held = groups.get(set.group);
    if (held) held.routes.push(route.path);
    else groups.set(set.group, { set, route, routes: [route.path] });
  }
  const policies = [];
  for (const { set, route, routes } of groups.values()) {
    const outcome = await deps.store.check(checkOf(set, client, route), { dryRun: true });
    policies.push({ policy: set.group, routes, limits: set.limits.map((l, i) => limitView(l, outcome.steps[i] as LimitStep, route.cost)) });
  }
  const hint = !seen && resolved.stateKeys === undefined ? UNKNOWN_LABEL_HINT : undefined;
  return { key: resolved.label, key_id: client.keyId, plan: client.plan, seen, hint, override: describeOverride(override?.override), policies };
}

const UNKNOWN_LABEL_HINT =
  'this instance has not seen this label lately, so the numbers are a new client\'s: a label is read on the instance that saw the client; the raw key or its sha256: form reads the state on any instance';

/**
 * The identity to read live state under, and whether the store holds any:
 * the first of the client's state keys (the form's own, else the one this
 * process last saw behind a label) that holds state under one of its own
 * limits; none held: the first, as a new client.
 */
async function liveClient(deps: Pick<AdminDeps, 'overrides' | 'store'>, config: GatewayConfig, resolved: ResolvedClient, override: ActiveOverride | undefined): Promise<{ client: ClientIdentity; seen: boolean }> {
  const candidates = resolved.stateKeys ?? [deps.overrides.recent.keyOf(resolved.label)].filter((k): k is string => k !== undefined);
  for (const key of candidates) {
    const client = { ...resolved.identity, key };
    for (const route of config.routes) {
      if (route.limitSets === null) continue;
      const limits = limitSetFor(route.limitSets, client, override).limits.filter((l) => l.scope === 'client');
      if (limits.length > 0 && (await deps.store.holds({ group: 'seen', limits, keys: limits.map(() => key), cost: 1 }))) return { client, seen: true };
    }
  }
  return { client: { ...resolved.identity, key: candidates[0] ?? resolved.identity.key }, seen: false };
}

/**
 * /v1/check's key: a client in any /v1/limits form, so a check shares the
 * budget and the overrides of that client. A plain key no key source of the
 * gateway can produce (a service's own id, with no header:/query: source or
 * with api_keys that do not hold it) is still checked, under a digest of its
 * own (`check:`), never the key itself; a prefixed form that names no client
 * is refused, as on /v1/limits.
 */
function checkClient(deps: AdminDeps, config: GatewayConfig, key: string): ClientIdentity | { error: string } {
  const resolved = resolveClientKey(key, config, deps.keys?.table);
  if (!('error' in resolved)) return { ...resolved.identity, key: resolved.stateKeys?.[0] ?? deps.overrides.recent.keyOf(resolved.label) ?? resolved.label };
  if (RESERVED_FORM.test(key)) return resolved;
  const digest = digestOf(key);
  return { key: `check:${digest.slice(0, 32)}`, label: unverifiedLabel(digest), keyId: null, plan: null, verified: false };
}

/** `default` or a route path: that policy's anonymous limits; `plan:<name>`: the plan's. */
function policySet(config: GatewayConfig, name: string): { set: LimitSet; routePath: string } | undefined {
  if (name.startsWith('plan:')) {
    const plan = name.slice(5);
    const limits = config.plans[plan];
    return limits === undefined ? undefined : { set: { group: `check:${name}`, limits, plan }, routePath: name };
  }
  const route = config.routes.find((r) => r.policy?.id === name && r.limitSets !== null);
  return route?.limitSets ? { set: route.limitSets.anonymous, routePath: route.path } : undefined;
}

function knownPolicies(config: GatewayConfig): string[] {
  const ids = new Set<string>();
  for (const r of config.routes) if (r.policy) ids.add(r.policy.id);
  for (const p of Object.keys(config.plans)) ids.add(`plan:${p}`);
  return [...ids];
}

const ajv = new Ajv({ allErrors: true });
const validLimit = ajv.compile(limitOverrideBody);
const validBlock = ajv.compile(blockOverrideBody);

/** The override body's problems, field by field, for the form it is (oneOf would report both forms' complaints). */
function overrideProblems(body: unknown): { path: string; message: string }[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [{ path: '', message: 'must be a JSON object: { requests_per_second, burst, expires_in? } or { block: true, expires_in? }' }];
  const validate = 'block' in body ? validBlock : validLimit;
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => {
    const p = e.params as { missingProperty?: string; additionalProperty?: string };
    const field = e.instancePath.replace(/^\//, '') || p.missingProperty || p.additionalProperty || '';
    return { path: field, message: p.additionalProperty ? 'unknown field' : (e.message ?? 'is invalid') };
  });
}
