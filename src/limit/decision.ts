import type { LimitPolicy, LimitSet } from '../config/types.js';
import type { LimitSpec } from './algorithms/types.js';
import type { LimitOutcome, LimitStep } from './stores/store.js';

/** What the limiter decided for one request; rendered into headers by headers.ts, into the log by access-log.ts. */
export interface LimitDecision {
  readonly allowed: boolean;
  readonly policy: LimitPolicy;
  readonly set: LimitSet;
  readonly steps: readonly LimitStep[];
  /**
   * The limit the headers report: when refused, the refusing limit that
   * frees last (its wait is Retry-After); when allowed, the enforced limit
   * closest to refusing (fewest remaining). -1 when every limit is shadow.
   */
  readonly headline: number;
  /** Whole seconds (>= 1) until the request would pass; 0 when allowed. */
  readonly retryAfterSeconds: number;
  /** A shadow limit would have refused (the request went through). */
  readonly shadowLimited: boolean;
  /** Set when the answer is not the limits' own (see LimitOutcome.reason). */
  readonly reason?: 'capacity' | 'store_unavailable';
}

const MAX_RETRY_MS = 86_400_000;

export function summarise(policy: LimitPolicy, set: LimitSet, outcome: LimitOutcome): LimitDecision {
  const { limits } = set;
  const { steps } = outcome;
  let headline = -1;
  let shadowLimited = false;
  for (let i = 0; i < limits.length; i++) {
    const step = steps[i] as LimitStep;
    if ((limits[i] as LimitSpec).mode === 'shadow') {
      if (!step.allowed) shadowLimited = true;
      continue;
    }
    if (headline === -1) headline = i;
    else if (isCloser(step, steps[headline] as LimitStep, outcome.allowed)) headline = i;
  }
  // A wait no time can end (a cost above a limit: config validation refuses it) is told as a day.
  const wait = outcome.allowed || headline === -1 ? 0 : Math.min((steps[headline] as LimitStep).retryAfterMs, MAX_RETRY_MS);
  return {
    allowed: outcome.allowed,
    policy,
    set,
    steps,
    headline,
    retryAfterSeconds: outcome.allowed ? 0 : Math.max(1, Math.ceil(wait / 1000 - 1e-9)),
    shadowLimited: shadowLimited && outcome.allowed,
    reason: outcome.reason,
  };
}

function isCloser(step: LimitStep, best: LimitStep, allowed: boolean): boolean {
  if (!allowed) {
    if (step.allowed !== best.allowed) return !step.allowed;
    return step.retryAfterMs > best.retryAfterMs;
  }
  if (step.remaining !== best.remaining) return step.remaining < best.remaining;
  return step.resetMs > best.resetMs;
}

/** Whole seconds for a header: rounded up, never negative. */
export const headerSeconds = (ms: number): number => Math.max(0, Math.ceil(ms / 1000 - 1e-9));
