import type { LimitSpec } from '../algorithms/types.js';
import type { LimitStep } from './store.js';

interface Entry {
  // What the refusal was for: another cost, or the limit changed by a reload, asks the store again.
  readonly algorithm: LimitSpec['algorithm'];
  readonly rate: number;
  readonly capacity: number;
  readonly windowMs: number;
  readonly cost: number;
  readonly remaining: number;
  /** When the refused request would pass; the entry lapses SLACK_MS before. */
  readonly retryAt: number;
  /** When the entry lapses anyway (the hold bound), whatever retryAt says. */
  readonly lapseAt: number;
  readonly resetAt: number;
}

/**
 * A refusal is answered locally while it is this close to its retry instant no
 * more: the store allows a hair early (its EPSILON tolerances), and
 * `now + retryAfterMs` may round a hair late, so at the boundary instant only
 * the store itself is exact.
 */
const SLACK_MS = 1;

/**
 * Remembers limit keys the shared store has just refused, until the instant it
 * said the same request would pass (envoyproxy/ratelimit's local cache).
 * Refusing them locally is exact, not an approximation: for the buckets and
 * windows nothing but time brings capacity back (other instances only take
 * more), so every answer before that instant would be "no" anyway. A flood
 * from one client then costs Redis one call per refill interval instead of
 * one per request. Only for the same cost: a cheaper request may fit sooner.
 * Never for concurrency, where a release frees a slot at any moment.
 *
 * `holdMs` bounds how long a refusal is trusted when something else than
 * time can bring capacity back: on Redis Cluster a check of several limits
 * gives back what it committed when it is refused (redis.ts), so a refusal
 * may have counted tokens about to be refunded. A refund lands within two
 * store timeouts of its check, which committed within one timeout of the
 * check refused here: past three the store is asked again, so the cache
 * never stretches that transient strictness to a whole window.
 */
export class OverLimitCache {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  readonly #holdMs: number;

  constructor(options: { max?: number; holdMs?: number } = {}) {
    this.#max = options.max ?? 100_000;
    this.#holdMs = options.holdMs ?? Infinity;
  }

  /**
   * The remembered refusal of `key` at `now` for a request of `cost`, or
   * undefined if it has lapsed. `remaining` is as the store last said (a
   * bucket may have refilled a fraction since, never a whole request).
   */
  get(key: string, spec: LimitSpec, cost: number, now: number): LimitStep | undefined {
    const e = this.#entries.get(key);
    if (e === undefined || !sameRequest(e, spec, cost)) return undefined;
    if (now >= e.retryAt - SLACK_MS || now >= e.lapseAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return { allowed: false, remaining: e.remaining, resetMs: Math.max(0, e.resetAt - now), retryAfterMs: e.retryAt - now };
  }

  /** `now`: the instant the check was asked, never later than the store's own `now`, so the entry never outlives the refusal. */
  remember(key: string, spec: LimitSpec, cost: number, now: number, step: LimitStep): void {
    // Not worth it for a wait under the slack; never forever (a cost above a window's limit never fits).
    if (!(step.retryAfterMs > SLACK_MS && Number.isFinite(step.retryAfterMs))) return;
    if (this.#entries.size >= this.#max) {
      for (const [k, e] of this.#entries) if (now >= e.retryAt - SLACK_MS || now >= e.lapseAt) this.#entries.delete(k);
      // Still full: skip caching; the store is asked again, which is correct, only slower.
      if (this.#entries.size >= this.#max) return;
    }
    const { algorithm, rate, capacity, windowMs } = spec;
    this.#entries.set(key, { algorithm, rate, capacity, windowMs, cost, remaining: step.remaining, retryAt: now + step.retryAfterMs, lapseAt: now + this.#holdMs, resetAt: now + step.resetMs });
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}

function sameRequest(e: Entry, spec: LimitSpec, cost: number): boolean {
  return e.cost === cost && e.algorithm === spec.algorithm && e.rate === spec.rate && e.capacity === spec.capacity && e.windowMs === spec.windowMs;
}
