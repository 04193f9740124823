import type { LimitSpec } from '../limit/algorithms/types.js';
import type { LimitCheck, LimitOutcome, LimitStep } from '../limit/stores/store.js';
import { GRANT_MS } from './grants.js';

interface Allowance {
  readonly id: number;
  /** Requests left to admit locally. */
  left: number;
  /** The worker's own instant after which it spends no more (GRANT_MS after it asked). */
  readonly until: number;
  /** Each limit's remaining units with the whole grant taken out, and its reset, as the primary decided. */
  readonly remaining: readonly number[];
  readonly resetMs: readonly number[];
  readonly limits: readonly LimitSpec[];
  readonly cost: number;
}

/**
 * A worker's grants (grants.ts), by check signature: the requests it may
 * admit without asking the primary. A signature is asked for a grant only
 * once it has been allowed within GRANT_MS (a busy client) and no grant is
 * held or asked for it; what is left of a grant is given back when it runs
 * out of time (or is found spent), on the next message to the primary.
 */
export class Allowances {
  readonly #held = new Map<string, Allowance>();
  readonly #asked = new Set<string>();
  // Two generations of signatures allowed recently: swapped every GRANT_MS, so the set is bounded by the traffic of 2 x GRANT_MS.
  #recent = new Set<string>();
  #older = new Set<string>();
  #swappedAt = -Infinity;
  #returns: number[] = [];

  get size(): number {
    return this.#held.size;
  }

  /** Whether unspent requests wait to be given back (takeReturns). */
  get returning(): boolean {
    return this.#returns.length > 0;
  }

  /** The local answer for a check with this signature, spending one request of its grant; undefined: ask the primary. */
  spend(signature: string, check: LimitCheck, now: number): LimitOutcome | undefined {
    if (this.#held.size === 0) return undefined;
    const grant = this.#held.get(signature);
    if (grant === undefined) return undefined;
    if (now >= grant.until || grant.left < 1 || grant.cost !== check.cost) {
      this.#end(signature, grant);
      return undefined;
    }
    grant.left--;
    const leftUnits = grant.left * grant.cost;
    const steps: LimitStep[] = grant.limits.map((spec, i) => ({
      allowed: true,
      remaining: Math.min(spec.capacity, Math.floor((grant.remaining[i] as number) + leftUnits)),
      resetMs: grant.resetMs[i] as number,
      retryAfterMs: 0,
    }));
    if (grant.left === 0) this.#end(signature, grant);
    return { allowed: true, steps };
  }

  /** Whether to ask for a grant with this check (and, if so, it is now asked for). */
  wants(signature: string, now: number): boolean {
    this.#age(now);
    if (this.#asked.has(signature) || this.#held.has(signature)) return false;
    if (!this.#recent.has(signature) && !this.#older.has(signature)) return false;
    this.#asked.add(signature);
    return true;
  }

  /** The primary allowed a check with this signature. */
  allowed(signature: string, now: number): void {
    this.#age(now);
    this.#recent.add(signature);
  }

  /** The answer to a check that asked: `grant` [id, requests], or undefined when none was given. `askedAt`: when the check was asked. */
  answered(signature: string, check: LimitCheck, outcome: LimitOutcome, grant: readonly [number, number] | undefined, askedAt: number): void {
    this.#asked.delete(signature);
    if (grant === undefined) return;
    const [id, requests] = grant;
    const taken = requests * check.cost;
    this.#held.set(signature, {
      id,
      left: requests,
      until: askedAt + GRANT_MS,
      remaining: outcome.steps.map((s) => s.remaining - taken),
      resetMs: outcome.steps.map((s) => s.resetMs),
      limits: check.limits,
      cost: check.cost,
    });
  }

  /** A grant this worker will not use: all of it goes back. */
  giveBackWhole(grant: readonly [number, number]): void {
    this.#returns.push(grant[0], grant[1]);
  }

  /** Ends every grant past its time; true if any is to be given back. */
  expire(now: number): boolean {
    for (const [signature, grant] of this.#held) if (now >= grant.until) this.#end(signature, grant);
    return this.#returns.length > 0;
  }

  /** [id, unspent requests] pairs to send, once. */
  takeReturns(): number[] | undefined {
    if (this.#returns.length === 0) return undefined;
    const returns = this.#returns;
    this.#returns = [];
    return returns;
  }

  /** The channel is gone: the primary has already counted every grant lost. */
  clear(): void {
    this.#held.clear();
    this.#asked.clear();
    this.#recent.clear();
    this.#older.clear();
    this.#returns = [];
  }

  #end(signature: string, grant: Allowance): void {
    this.#held.delete(signature);
    this.#returns.push(grant.id, grant.left);
  }

  #age(now: number): void {
    const since = now - this.#swappedAt;
    if (since < GRANT_MS) return;
    this.#swappedAt = now;
    // Nothing allowed for two generations: both are stale.
    this.#older = since < 2 * GRANT_MS ? this.#recent : new Set();
    this.#recent = new Set();
  }
}

/** A check's identity for grants: its group, its limits (by the worker's refs), keys and cost. */
export function signatureOf(check: LimitCheck, refs: readonly number[]): string {
  return `${check.group}\u0000${refs.join(',')}\u0000${check.keys.join('\u0000')}\u0000${check.cost}`;
}
