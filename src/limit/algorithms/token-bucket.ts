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
 * Pure: the caller passes the clock reading, so tests need no sleeping. The
 * Redis store runs the same arithmetic in Lua (stores/redis-script.ts) and
 * rounds its raw answer with `roundStep`, so both stores report alike.
 */
export interface BucketStep {
  readonly allowed: boolean;
  /** The state to store: unchanged when refused. */
  readonly fullAt: number;
  readonly remaining: number;
  readonly resetSeconds: number;
  readonly retryAfterSeconds: number;
}

/** A decision before rounding: tokens left and exact waits in ms. */
export interface RawStep {
  readonly allowed: boolean;
  readonly tokensLeft: number;
  readonly msUntilFull: number;
  /** 0 when allowed. */
  readonly msUntilToken: number;
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
    return { allowed: true, fullAt: next, remaining: wholeTokens(tokens - 1), resetSeconds: secondsUntilFull(next - now), retryAfterSeconds: 0 };
  }
  return {
    allowed: false,
    fullAt: start,
    remaining: 0,
    resetSeconds: secondsUntilFull(start - now),
    retryAfterSeconds: secondsUntilToken((1 - tokens) * msPerToken),
  };
}

/**
 * Whole numbers for headers: Remaining floors the tokens left, Reset rounds
 * the wait until full up, and Retry-After = ceil((1 - tokens) / rate) >= 1.
 */
export function roundStep(raw: RawStep): Omit<BucketStep, 'fullAt'> {
  return {
    allowed: raw.allowed,
    remaining: raw.allowed ? wholeTokens(raw.tokensLeft) : 0,
    resetSeconds: secondsUntilFull(raw.msUntilFull),
    retryAfterSeconds: raw.allowed ? 0 : secondsUntilToken(raw.msUntilToken),
  };
}

const wholeTokens = (tokens: number): number => Math.max(0, Math.floor(tokens + EPSILON));
const secondsUntilFull = (ms: number): number => Math.max(0, Math.ceil(ms / 1000 - EPSILON));
const secondsUntilToken = (ms: number): number => Math.max(1, Math.ceil(ms / 1000 - EPSILON));
