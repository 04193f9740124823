import type { LimitSet, RouteConfig } from '../config/types.js';
import type { LimitSpec } from './algorithms/types.js';
import type { ClientIdentity } from './keys.js';
import type { ActiveOverride } from './overrides.js';
import type { LimitCheck, LimitOutcome } from './stores/store.js';

/**
 * Which limits bind a client on a route: an operator's override, else its
 * plan's, else the anonymous ones, with the address envelope for a client an
 * unverified key identified (an override replaces its own limit, not the
 * envelope). One function for the request path, explain and simulate.
 */
export function limitSetFor(sets: NonNullable<RouteConfig['limitSets']>, client: ClientIdentity, override: ActiveOverride | undefined): LimitSet {
  const base = client.addressKey !== undefined ? (sets.unverifiedKey ?? sets.anonymous) : sets.anonymous;
  if (override?.spec !== undefined) return overrideSet(base, override.spec, client.key);
  return (client.plan !== null ? sets.plans[client.plan] : undefined) ?? base;
}

/** Each limit counts under its scope's key: the client's, its address's, the route's, or one for all. */
export function checkOf(set: LimitSet, client: ClientIdentity, route: RouteConfig): LimitCheck {
  const keys = set.limits.map((l) => {
    if (l.scope === 'client') return client.key;
    if (l.scope === 'address') return client.addressKey ?? client.key;
    return l.scope === 'route' ? `route:${route.path}` : 'global';
  });
  return { group: set.group, limits: set.limits, keys, cost: route.cost };
}

// An override's set is the override's bucket plus the route's shared limits; one per (route set, override spec).
const overrideSets = new WeakMap<LimitSet, WeakMap<LimitSpec, LimitSet>>();
function overrideSet(base: LimitSet, spec: LimitSpec, key: string): LimitSet {
  let bySpec = overrideSets.get(base);
  if (bySpec === undefined) overrideSets.set(base, (bySpec = new WeakMap()));
  let set = bySpec.get(spec);
  if (set === undefined) {
    set = { group: `${base.group}+override:${key}`, limits: [spec, ...base.limits.filter((l) => l.scope !== 'client')], plan: base.plan };
    bySpec.set(spec, set);
  }
  return set;
}

/**
 * The wait until every refusing enforced limit would allow: the longest of
 * their waits, each lengthened, for the buckets, by the refill of the
 * `unitsAhead` units queued requests will take first. Windows add nothing
 * (a new window may admit the whole queue at once): a lower bound.
 */
export function waitOf(limits: readonly LimitSpec[], outcome: LimitOutcome, unitsAhead: number): number {
  let wait = 0;
  outcome.steps.forEach((s, i) => {
    const l = limits[i];
    if (s.allowed || l?.mode !== 'enforce') return;
    const refill = l.algorithm === 'token_bucket' || l.algorithm === 'gcra' ? (unitsAhead * 1000) / l.rate : 0;
    wait = Math.max(wait, s.retryAfterMs + refill);
  });
  return wait;
}
