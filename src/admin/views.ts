import type { LimitSpec } from '../limit/algorithms/types.js';
import { headerSeconds } from '../limit/decision.js';
import type { Override } from '../limit/overrides.js';
import type { LimitStep } from '../limit/stores/store.js';

/** A limit and its live numbers, as the admin API shows them. */
export interface LimitView {
  id: string;
  algorithm: string;
  scope: string;
  mode: string;
  limit: number;
  remaining: number;
  reset: number;
  /** Token bucket and GCRA: the refill rate (what an override's requests_per_second replaces). */
  requests_per_second?: number;
}

/**
 * From a dry run of one request of `cost`: `remaining` is what the client has
 * now and `reset` when its state is back to a new client's. An allowed step
 * reports both as after the request, so the cost goes back: a bucket refills
 * it at its rate, and a window with all its units left is a new client's.
 */
export function limitView(spec: LimitSpec, step: LimitStep, cost: number): LimitView {
  const taken = spec.algorithm === 'concurrency' ? 1 : cost;
  const remaining = step.allowed ? Math.min(spec.capacity, step.remaining + taken) : step.remaining;
  let resetMs = step.resetMs;
  if (step.allowed && (spec.algorithm === 'token_bucket' || spec.algorithm === 'gcra')) resetMs = Math.max(0, resetMs - (taken * 1000) / spec.rate);
  else if (step.allowed && remaining >= spec.capacity) resetMs = 0;
  const rate = spec.algorithm === 'token_bucket' || spec.algorithm === 'gcra' ? { requests_per_second: spec.rate } : {};
  return { id: spec.id, algorithm: spec.algorithm, scope: spec.scope, mode: spec.mode, limit: spec.capacity, remaining, reset: headerSeconds(resetMs), ...rate };
}

/** The JSON shape of an override (snake_case, ISO expiry). */
export function describeOverride(o: Override | undefined) {
  if (o === undefined) return null;
  const expires_at = o.expiresAt === null ? null : new Date(o.expiresAt).toISOString();
  return o.kind === 'block'
    ? { kind: o.kind, expires_at, set_by: o.setBy }
    : { kind: o.kind, requests_per_second: o.requestsPerSecond, burst: o.burst, expires_at, set_by: o.setBy };
}

/** A limit as configured, for GET /v1/routes. */
export function specView(l: LimitSpec) {
  const base = { id: l.id, algorithm: l.algorithm, scope: l.scope, mode: l.mode };
  if (l.algorithm === 'token_bucket' || l.algorithm === 'gcra') return { ...base, requests_per_second: l.rate, burst: l.capacity };
  if (l.algorithm === 'concurrency') return { ...base, limit: l.capacity, lease_ms: l.leaseMs };
  return { ...base, limit: l.capacity, window_ms: l.windowMs };
}
