import type { LimitCheck, LimitOutcome, LimitStep, Clock } from '../limit/stores/store.js';

/**
 * Grants: units of a busy client's bucket handed to one worker to spend
 * locally, so a client far from its limit costs the primary one message per
 * grant instead of one per request (store-client.ts spends them).
 *
 * What keeps a grant from ever being looser than one process:
 * - only buckets (token_bucket, gcra) in enforce mode, where nothing but time
 *   gives units back: a unit taken early is a unit taken (MemoryStore.hold);
 * - the units stay counted as held out until the worker gives back what it did
 *   not spend, and the bucket refills to at most capacity minus them (so a
 *   client idle at a full bucket cannot gain the grant on top of its burst);
 * - a worker spends a grant only until GRANT_MS after it asked (its own clock,
 *   from before the primary decided), and the primary forgets a grant it was
 *   never given back FORGET_MS after deciding it, crediting nothing. A worker
 *   that dies loses its grants' unspent units the same way.
 * - Units given back are credited on the limit's numbers in force then, and
 *   only if they are the numbers the units were taken under (MemoryStore.unhold).
 * The price: while units are out, a request asked of the primary may be
 * refused although a worker still holds units of the same bucket (stricter,
 * never looser: by at most one grant per worker and check signature, until
 * the grant is given back, at most about 2 x GRANT_MS; a worker may keep
 * answering such a refusal from its over-limit cache until the wait the
 * primary gave), and a locally admitted request's remaining count is the one
 * the primary gave with the grant, less what this worker spent since.
 *
 * Grants are only offered when the worker asks (a signature it has seen
 * allowed within GRANT_MS: a busy client) and when every limit has at least
 * GRANT_SHARE grants' worth left, so a client near its limit is decided
 * request by request, as with one process.
 */

/** How long a worker may spend a grant, from the instant it asked. */
export const GRANT_MS = 100;
/** When the primary stops waiting for a grant's unspent units, counted from deciding it: they are lost (stricter). */
export const FORGET_MS = GRANT_MS + 1000;
/** The most requests one grant covers. */
export const MAX_GRANT = 256;
/** Fewer than this many requests' worth is not worth a grant: the client is decided request by request. */
export const MIN_GRANT = 8;
/** A grant takes at most this share of what every limit has left. */
export const GRANT_SHARE = 1 / 8;

/** What MemoryStore offers to hold units out of a check's limits. */
export interface Holding {
  hold(check: LimitCheck, units: number): LimitOutcome;
  unhold(check: LimitCheck, units: number, unspent: number): void;
}

export function canHold(store: object): store is Holding {
  return typeof (store as Partial<Holding>).hold === 'function' && typeof (store as Partial<Holding>).unhold === 'function';
}

/** How many requests to grant after an allowed check with these steps (its remaining after the request), 0 for none. Pure. */
export function grantSize(steps: readonly LimitStep[], cost: number): number {
  if (!(cost > 0) || steps.length === 0) return 0;
  let least = Infinity;
  for (const step of steps) least = Math.min(least, step.remaining);
  const requests = Math.min(MAX_GRANT, Math.floor((least * GRANT_SHARE) / cost));
  return requests >= MIN_GRANT ? requests : 0;
}

interface Grant {
  readonly check: LimitCheck;
  readonly units: number;
  readonly at: number;
}

/** The grants one worker holds, kept by the primary (store-server.ts): one book per worker channel. */
export class GrantBook {
  readonly #store: Holding;
  readonly #clock: Clock;
  readonly #grants = new Map<number, Grant>();
  #next = 1;
  #timer: NodeJS.Timeout | undefined;

  constructor(store: Holding, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  get size(): number {
    return this.#grants.size;
  }

  /** After `outcome` allowed `check`: takes a grant out of its limits; [id, requests], or undefined for none. */
  offer(check: LimitCheck, outcome: LimitOutcome): [id: number, requests: number] | undefined {
    const requests = grantSize(outcome.steps, check.cost);
    if (requests === 0) return undefined;
    const units = requests * check.cost;
    if (!this.#store.hold(check, units).allowed) return undefined;
    const id = this.#next++;
    this.#grants.set(id, { check, units, at: this.#clock() });
    this.#timer ??= setInterval(() => this.forgetStale(), GRANT_MS).unref();
    return [id, requests];
  }

  /** The worker stopped spending grant `id` with `unspent` requests left; an unknown (forgotten) id is ignored. */
  giveBack(id: number, unspent: number): void {
    const grant = this.#grants.get(id);
    if (grant === undefined) return;
    this.#grants.delete(id);
    this.#store.unhold(grant.check, grant.units, Math.max(0, Math.min(grant.units, unspent * grant.check.cost)));
    this.#idle();
  }

  /** Grants never given back within FORGET_MS: their units are lost. Public for tests. */
  forgetStale(now = this.#clock()): void {
    for (const [id, grant] of this.#grants) {
      if (now - grant.at < FORGET_MS) continue;
      this.#grants.delete(id);
      this.#store.unhold(grant.check, grant.units, 0);
    }
    this.#idle();
  }

  /** The worker is gone: what it held is lost, never given back (it may have spent it). */
  close(): void {
    for (const grant of this.#grants.values()) this.#store.unhold(grant.check, grant.units, 0);
    this.#grants.clear();
    this.#idle();
  }

  #idle(): void {
    if (this.#grants.size > 0 || this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
