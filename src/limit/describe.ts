import type { LimitSpec } from './algorithms/types.js';

/** A limit as the startup line and the dashboard show it: `5/s burst 10 (default)`, `1000 per 86400s fixed_window (plan:free#2)`. */
export function describeLimit(l: LimitSpec): string {
  const mode = l.mode === 'shadow' ? ' shadow' : '';
  const scope = l.scope === 'client' ? '' : ` per ${l.scope}`;
  if (l.algorithm === 'concurrency') return `${l.capacity} in flight${scope}${mode} (${l.id})`;
  if (l.algorithm === 'token_bucket' || l.algorithm === 'gcra') return `${l.rate}/s burst ${l.capacity} ${l.algorithm}${scope}${mode} (${l.id})`;
  return `${l.capacity} per ${l.windowMs / 1000}s ${l.algorithm}${scope}${mode} (${l.id})`;
}
