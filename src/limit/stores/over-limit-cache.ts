/**
 * Remembers clients the shared store has just refused, until the instant it
 * said a token would exist (envoyproxy/ratelimit's local cache). Refusing
 * them locally is exact, not an approximation: nothing but time adds tokens,
 * so every answer before that instant would be "no" anyway. A flood from one
 * client then costs Redis one call per refill interval instead of one per request.
 */
export class OverLimitCache {
  readonly #entries = new Map<string, { tokenAt: number; fullAt: number }>();
  readonly #max: number;

  constructor(max = 100_000) {
    this.#max = max;
  }

  /** The remembered refusal for `key` at `now`, or undefined if it has lapsed. */
  get(key: string, now: number): { msUntilToken: number; msUntilFull: number } | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (now >= e.tokenAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return { msUntilToken: e.tokenAt - now, msUntilFull: e.fullAt - now };
  }

  remember(key: string, now: number, msUntilToken: number, msUntilFull: number): void {
    if (this.#entries.size >= this.#max) {
      for (const [k, e] of this.#entries) if (now >= e.tokenAt) this.#entries.delete(k);
      // Still full: skip caching; the store is asked again, which is correct, only slower.
      if (this.#entries.size >= this.#max) return;
    }
    this.#entries.set(key, { tokenAt: now + msUntilToken, fullAt: now + msUntilFull });
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}
