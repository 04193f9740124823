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
  /**
   * Set when the answer is not the bucket's own: `capacity` (memory store
   * full of other clients), `store_unavailable` (Redis down, on_error open or closed).
   */
  readonly reason?: 'capacity' | 'store_unavailable';
}
