/** The limit algorithms a config may name (`algorithm:` on a limit). */
export const ALGORITHM_NAMES = ['token_bucket', 'gcra', 'fixed_window', 'sliding_window', 'concurrency'] as const;
export type AlgorithmName = (typeof ALGORITHM_NAMES)[number];

/**
 * Whose budget a limit counts: each client's, one shared by the route, or one
 * shared by every route using it. `address` is never configured: it is the
 * scope of an unverified-key envelope (config/policies.ts), one budget for
 * every key a client address presents.
 */
export type LimitScope = 'client' | 'address' | 'route' | 'global';

/** One resolved limit. Which fields matter depends on the algorithm. */
export interface LimitSpec {
  /** Stable id: the state namespace in every store and the name in the RateLimit headers. */
  readonly id: string;
  readonly algorithm: AlgorithmName;
  readonly scope: LimitScope;
  /** Tokens per second (token_bucket, gcra); limit / window for the windows; 0 for concurrency. */
  readonly rate: number;
  /** Bucket size (burst), requests per window (limit), or requests in flight (concurrency). */
  readonly capacity: number;
  /** Window length; for the buckets, the time to refill from empty. 0 for concurrency. */
  readonly windowMs: number;
  /** `shadow`: a refusal is logged and counted but the request goes through. */
  readonly mode: 'enforce' | 'shadow';
  /** Concurrency on a shared store: how long a slot is held if its instance dies without releasing it. */
  readonly leaseMs: number;
}

/**
 * One decision of one limit, from state and time alone. `next` is the state
 * to store if the request goes through; a refused request (or one another
 * limit refuses) stores nothing, so a refusal never costs a token.
 */
export interface Step {
  readonly allowed: boolean;
  /** Whole units left: after this request when allowed, now when refused. */
  readonly remaining: number;
  /** Exact ms until the state is back to a new client's (bucket full, window over). */
  readonly resetMs: number;
  /** Exact ms until the same request would be allowed; 0 when allowed. */
  readonly retryAfterMs: number;
  readonly next: readonly number[];
}

/**
 * An algorithm is two pure functions over a short tuple of numbers (its
 * state). Time is passed in; `undefined` state is a client never seen or
 * forgotten. The Redis store runs the same arithmetic in Lua
 * (stores/redis-script.ts) and the conformance suite holds the two equal.
 */
export interface Algorithm {
  step(state: readonly number[] | undefined, now: number, spec: LimitSpec, cost: number): Step;
  /**
   * The instant from which `state` decides exactly as no state would, so a
   * store may forget it (losslessly); -Infinity for a state that already
   * does, Infinity for one only an explicit release changes (concurrency).
   */
  idleAt(state: readonly number[], spec: LimitSpec): number;
  /**
   * Only the buckets (token_bucket, gcra), where nothing but time gives units
   * back, so units taken early are units taken: the state at `now` with at
   * most `capacity - held` units, `held` being units taken from it for a
   * worker to spend locally (cluster/grants). Capping the refill is what keeps
   * a grant from being looser than one process: units held out cannot also
   * be refilled to the brim.
   */
  capHeld?(state: readonly number[] | undefined, now: number, spec: LimitSpec, held: number): number[];
  /** The state with `units` given back (a grant's unspent part); the caller caps it again (capHeld). */
  credit?(state: readonly number[], spec: LimitSpec, units: number): number[];
}

// Float slack at exact boundary instants (fractional rates): tokens, and ms.
export const EPSILON = 1e-9;
export const EPSILON_MS = 1e-6;
