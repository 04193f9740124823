/**
 * Passive outlier ejection for one upstream target: `ejectAfter` consecutive
 * failures (5xx responses or connect failures) take the target out of
 * balancing for `ejectForMs`; it then returns with a fresh count. Pure: the
 * clock is injected and nothing runs on a timer.
 *
 * Contract: ejectAfter >= 1, ejectForMs >= 0, and the clock is monotonic (ms).
 */
export interface EjectionOptions {
  readonly ejectAfter: number;
  readonly ejectForMs: number;
}

export class PassiveEjection {
  readonly #options: EjectionOptions;
  readonly #now: () => number;
  #consecutiveFailures = 0;
  #ejectedUntil = -Infinity;

  constructor(options: EjectionOptions, now: () => number) {
    this.#options = options;
    this.#now = now;
  }

  /**
   * A response (status) or a connect failure (ok=false) from this target.
   * 5xx and connect failures count as failures; anything else resets the
   * consecutive count.
   */
  record(ok: boolean): void {
    const now = this.#now();
    // Outcomes arriving while ejected are of requests sent before: counting
    // them would extend the ejection or spoil the fresh count on return.
    if (now < this.#ejectedUntil) return;
    if (ok) {
      this.#consecutiveFailures = 0;
      return;
    }
    this.#consecutiveFailures++;
    if (this.#consecutiveFailures >= this.#options.ejectAfter) {
      this.#ejectedUntil = now + this.#options.ejectForMs;
      this.#consecutiveFailures = 0;
    }
  }

  /** True while ejected (ejectAfter consecutive failures, for ejectForMs); after that the target returns with a fresh count. */
  get ejected(): boolean {
    return this.#now() < this.#ejectedUntil;
  }
}
