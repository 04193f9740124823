import type { LimitSpec } from '../../src/limit/algorithms/types.js';
import type { LimitCheck } from '../../src/limit/stores/store.js';

/** A limit with test defaults: a client-scoped, enforced token bucket; windowMs follows from rate and capacity for the buckets. */
export function spec(id: string, overrides: Partial<LimitSpec> = {}): LimitSpec {
  const base = { id, algorithm: 'token_bucket', scope: 'client', rate: 1, capacity: 1, mode: 'enforce', leaseMs: 60_000, ...overrides } as const;
  const bucket = base.algorithm === 'token_bucket' || base.algorithm === 'gcra';
  return { windowMs: bucket ? (base.capacity / base.rate) * 1000 : 0, ...base };
}

/** A check of one limit. */
export function single(limit: LimitSpec, key: string, cost = 1): LimitCheck {
  return { group: limit.id, limits: [limit], keys: [key], cost };
}

/** A check of several limits decided together. */
export function checkOf(group: string, limits: readonly LimitSpec[], keys: readonly string[], cost = 1): LimitCheck {
  return { group, limits, keys, cost };
}
