import type { LimitSpec, Step } from '../algorithms/types.js';

/**
 * One request's limits, decided together: the request passes only if every
 * enforced limit allows it, and when one refuses, none is consumed.
 */
export interface LimitCheck {
  /** Stable id of this set of limits (route policy, plus plan or override): names the set in queues and reports. */
  readonly group: string;
  readonly limits: readonly LimitSpec[];
  /** Each limit's scope key, in order: the client's key, its address's `ip:<addr>` (an envelope), `route:<path>` or `global`. */
  readonly keys: readonly string[];
  /** Tokens (or window units) the request takes from each limit. */
  readonly cost: number;
}

export interface CheckOptions {
  readonly dryRun?: boolean;
}

/** One limit's part of an outcome. */
export type LimitStep = Omit<Step, 'next'>;

export interface LimitOutcome {
  /** No enforced limit refused (shadow limits never refuse). */
  readonly allowed: boolean;
  /** One per limit of the check, in order. */
  readonly steps: readonly LimitStep[];
  /**
   * Set when the answer is not the limits' own: `capacity` (memory store
   * full of other clients), `store_unavailable` (Redis down, on_error open or closed).
   */
  readonly reason?: 'capacity' | 'store_unavailable';
  /** Present when the request holds concurrency slots: call once when it ends. */
  readonly release?: () => void;
}

/**
 * Where limit state lives. The request path only ever calls `check`, so a
 * shared store (Redis) can replace the in-memory one without touching it.
 * `check` may answer synchronously (memory) or with a promise (network).
 */
export interface LimitStore {
  /** `dryRun`: decide as now, store nothing (the admin API's peek); a dry run never holds a slot. */
  check(check: LimitCheck, options?: CheckOptions): LimitOutcome | Promise<LimitOutcome>;
  /**
   * Whether state is held for any of the check's (limit, key) pairs: the
   * admin API's `seen`, so a fresh reading is not taken for a real one.
   * Reads only; a state the sweeper forgot (it decided as a new client's) is not held.
   */
  holds(check: LimitCheck): boolean | Promise<boolean>;
  /** States currently held by this process (the `throttlegate_active_clients` gauge). */
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

/** Milliseconds since the Unix epoch, monotonic within a process. Injected so tests control time. */
export type Clock = () => number;

// Epoch-based so fixed windows align to UTC like Redis TIME, and monotonic (no NTP steps).
export const monotonicClock: Clock = () => performance.timeOrigin + performance.now();

/** Whether an outcome's enforced steps allowed: the one rule every store applies. */
export function enforcedAllow(limits: readonly LimitSpec[], steps: readonly LimitStep[]): boolean {
  for (let i = 0; i < limits.length; i++) if (!(steps[i] as LimitStep).allowed && (limits[i] as LimitSpec).mode === 'enforce') return false;
  return true;
}
