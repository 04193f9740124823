import type { LimitPolicy } from '../config/types.js';

/** What the limiter decided for one request; rendered into headers by headers.ts. */
export interface LimitDecision {
  readonly allowed: boolean;
  readonly policy: LimitPolicy;
  /** Whole tokens left after this request. */
  readonly remaining: number;
  /** Whole seconds until the bucket is full again. */
  readonly resetSeconds: number;
  /** Whole seconds (>= 1) until one token is available; 0 when allowed. */
  readonly retryAfterSeconds: number;
  /** Why a request was refused when it was not the bucket's own answer. */
  readonly reason?: 'capacity';
}
