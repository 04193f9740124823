/**
 * A circuit breaker for one upstream target. Pure: the clock is injected and
 * nothing runs on a timer; every transition happens when the breaker is asked.
 *
 * closed -> open when, over the sliding window, at least `minRequests`
 * outcomes were recorded and failures / total >= `errorRate`.
 * open -> half_open once `openForMs` has passed.
 * half_open lets exactly one probe through: its success closes the circuit
 * with a fresh window, its failure opens it again for `openForMs`.
 *
 * Contract: windowMs > 0, openForMs >= 0, 0 <= errorRate <= 1, and the clock
 * is monotonic (ms). Every request that tryAcquire() lets through should be
 * recorded, aborted ones included. A half-open probe whose outcome never
 * comes (a request lost before it was sent) frees the probe slot after
 * another openForMs, so it cannot keep the target out forever.
 */
export interface BreakerOptions {
  /** 0..1 */
  readonly errorRate: number;
  readonly minRequests: number;
  readonly windowMs: number;
  readonly openForMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half_open';

/** The value exported for each state by the circuit-state gauge. */
export const CIRCUIT_STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

// The window is this many sub-buckets rotated by the clock: constant memory,
// at the price of outcomes leaving the window a bucket (windowMs / 10) at a time.
const BUCKETS = 10;

interface Bucket {
  requests: number;
  failures: number;
}

export class CircuitBreaker {
  readonly #options: BreakerOptions;
  readonly #now: () => number;
  readonly #bucketMs: number;
  readonly #buckets: Bucket[] = Array.from({ length: BUCKETS }, () => ({ requests: 0, failures: 0 }));
  // The bucket number (floor(now / bucketMs)) the newest bucket holds.
  #newest = -Infinity;
  #requests = 0;
  #failures = 0;
  #state: CircuitState = 'closed';
  #openedAt = 0;
  #probing = false;
  #probeAt = 0;

  constructor(options: BreakerOptions, now: () => number) {
    this.#options = options;
    this.#now = now;
    this.#bucketMs = options.windowMs / BUCKETS;
  }

  /** Reading it may move open -> half_open when openForMs has passed. */
  get state(): CircuitState {
    this.#settle();
    return this.#state;
  }

  /**
   * May a request go to this target now? closed: yes. open: no. half_open:
   * yes for exactly one probe at a time, then no until its outcome is recorded.
   */
  tryAcquire(): boolean {
    if (!this.available()) return false;
    if (this.#state === 'half_open') {
      this.#probing = true;
      this.#probeAt = this.#now();
    }
    return true;
  }

  /** Whether a pick would be allowed, without taking the half-open probe slot (for filtering candidates). */
  available(): boolean {
    this.#settle();
    return this.#state === 'closed' || (this.#state === 'half_open' && !this.#probing);
  }

  /** Outcome of a request that tryAcquire() let through. */
  record(success: boolean): void {
    this.#settle();
    const now = this.#now();
    if (this.#state === 'closed') this.#count(success, now);
    else if (this.#state === 'half_open' && this.#probing) {
      // Without a ticket per request, a late outcome of a request admitted
      // while closed would be taken for the probe's; it is as recent a sign.
      this.#probing = false;
      if (success) {
        this.#state = 'closed';
        this.#clearWindow();
      } else this.#open(now);
    }
    // Otherwise (open, or half_open before the probe went out) the outcome is
    // of a request admitted before the circuit opened: it says nothing new.
  }

  #settle(): void {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#options.openForMs) {
      this.#state = 'half_open';
      this.#probing = false;
    } else if (this.#probing && this.#now() - this.#probeAt >= Math.max(this.#options.openForMs, 1)) {
      this.#probing = false; // the probe's outcome never came: let another one try
    }
  }

  #count(success: boolean, now: number): void {
    const bucket = this.#rotate(now);
    bucket.requests++;
    this.#requests++;
    if (!success) {
      bucket.failures++;
      this.#failures++;
    }
    const { minRequests, errorRate } = this.#options;
    // failures > 0: a window of successes never opens, even with errorRate 0.
    if (this.#requests >= minRequests && this.#failures > 0 && this.#failures / this.#requests >= errorRate) this.#open(now);
  }

  /** Empties the buckets that have left the window and returns the one `now` falls in. */
  #rotate(now: number): Bucket {
    const current = Math.max(this.#newest, Math.floor(now / this.#bucketMs));
    if (current - this.#newest >= BUCKETS) this.#clearWindow();
    else for (let n = this.#newest + 1; n <= current; n++) this.#clearBucket(n);
    this.#newest = current;
    return this.#buckets[slot(current)]!;
  }

  #clearBucket(n: number): void {
    const bucket = this.#buckets[slot(n)]!;
    this.#requests -= bucket.requests;
    this.#failures -= bucket.failures;
    bucket.requests = 0;
    bucket.failures = 0;
  }

  #clearWindow(): void {
    for (const bucket of this.#buckets) {
      bucket.requests = 0;
      bucket.failures = 0;
    }
    this.#requests = 0;
    this.#failures = 0;
  }

  #open(now: number): void {
    this.#state = 'open';
    this.#openedAt = now;
    this.#probing = false;
    this.#clearWindow();
  }
}

const slot = (n: number): number => ((n % BUCKETS) + BUCKETS) % BUCKETS;
