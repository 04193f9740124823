import type { LimitPolicy } from '../../config/types.js';

/**
 * Token bucket, stored as one number per client: `fullAt`, the instant (ms)
 * at which the bucket would be full again. This is the GCRA formulation of the
 * same bucket: at time `now` it holds
 *
 *     tokens = burst - max(0, fullAt - now) * rate / 1000
 *
 * so taking one token moves `fullAt` forward by 1000 / rate ms, refill is
 * continuous, and a bucket whose `fullAt` has passed is exactly a new bucket
 * (which is why stores may forget it: sweeping it is lossless).
 *
 * Pure: the caller passes the clock reading, so tests need no sleeping.
 */
export interface BucketStep {
  readonly allowed: boolean;
  /** The state to store: unchanged when refused. */
  readonly fullAt: number;
  readonly remaining: number;
  readonly resetSeconds: number;
  readonly retryAfterSeconds: number;
}

// Tolerance for float error in token arithmetic (fractional rates).
const EPSILON = 1e-9;

export function takeToken(
  fullAt: number | undefined,
  now: number,
  policy: Pick<LimitPolicy, 'rate' | 'burst'>,
): BucketStep {
  const { rate, burst } = policy;
  const msPerToken = 1000 / rate;
  const start = fullAt === undefined || fullAt < now ? now : fullAt;
  const tokens = burst - ((start - now) * rate) / 1000;
  if (tokens + EPSILON >= 1) {
    const next = start + msPerToken;
    return {
      allowed: true,
      fullAt: next,
      remaining: Math.max(0, Math.floor(tokens - 1 + EPSILON)),
      resetSeconds: ceilSeconds(next - now),
      retryAfterSeconds: 0,
    };
  }
  return {
    allowed: false,
    fullAt: start,
    remaining: 0,
    resetSeconds: ceilSeconds(start - now),
    retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / rate - EPSILON)),
  };
}

function ceilSeconds(ms: number): number {
  return Math.max(0, Math.ceil(ms / 1000 - EPSILON));
}
