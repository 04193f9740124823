import type { LimitPolicy } from '../../config/types.js';
import type { LimitDecision } from '../decision.js';

/**
 * Where bucket state lives. The request path only ever calls `consume`, so a
 * shared store (Redis) can replace the in-memory one without touching it.
 * `consume` may answer synchronously (memory) or with a promise (network).
 */
export interface LimitStore {
  /** Takes one token from `key`'s bucket under `policy` and says whether the request may pass. */
  consume(policy: LimitPolicy, key: string): LimitDecision | Promise<LimitDecision>;
  /** Buckets currently held by this process (the `throttlegate_active_clients` gauge). */
  size(): number;
  /** Whether decisions come from the store itself ('ok'), a fallback ('degraded'), or nowhere ('down'). */
  health(): StoreHealth;
  /**
   * Resolves once the store can decide on its own (a shared store has
   * connected), or when it gives up waiting: a gateway still starts with its
   * store down, and `on_error` applies until it connects. Absent: always ready.
   */
  whenReady?(): Promise<void>;
  close(): Promise<void>;
}

export type StoreHealth = 'ok' | 'degraded' | 'down';

/** Milliseconds from an arbitrary origin; only differences matter. Injected so tests control time. */
export type Clock = () => number;

export const monotonicClock: Clock = () => performance.now();
