/**
 * Weak labels from outcomes (issue 17, "Feedback loop"): failed logins in a
 * row per client, on routes marked `login: true`. A 401 or 403 from such a
 * route is a failed login, a 2xx or 3xx a successful one (the streak ends);
 * anything else (a 404, a 429 the limits answered, a 5xx) says nothing about
 * the credentials and leaves the streak as it is.
 *
 * Only login routes feed it, so a Map is cheap; it keeps two generations of
 * at most `max` clients each (recent-labels.ts's discipline), so a stuffer
 * rotating through a million keys costs a bounded table.
 */
export type LoginOutcome = 'failed' | 'succeeded' | 'neither';

export function loginOutcome(status: number): LoginOutcome {
  if (status === 401 || status === 403) return 'failed';
  if (status >= 200 && status < 400) return 'succeeded';
  return 'neither';
}

export class LoginStreaks {
  readonly #threshold: number;
  readonly #max: number;
  #current = new Map<string, number>();
  #previous = new Map<string, number>();

  /** `threshold`: failures in a row that make a label (at least 1); `max`: clients per generation. */
  constructor(threshold: number, max: number) {
    if (!(Number.isInteger(threshold) && threshold >= 1)) throw new RangeError(`threshold must be an integer >= 1, got ${threshold}`);
    this.#threshold = threshold;
    this.#max = Math.max(1, max);
  }

  /**
   * Notes one login answer for the client. True exactly when this failure
   * completes a streak of `threshold`: the streak then starts again, so a
   * client failing on and on is labelled once per `threshold` failures.
   */
  note(clientKey: string, status: number): boolean {
    const outcome = loginOutcome(status);
    if (outcome === 'neither') return false;
    const streak = this.#current.get(clientKey) ?? this.#previous.get(clientKey) ?? 0;
    if (outcome === 'succeeded') {
      if (streak > 0) this.#set(clientKey, 0);
      return false;
    }
    const next = streak + 1;
    const labelled = next >= this.#threshold;
    this.#set(clientKey, labelled ? 0 : next);
    return labelled;
  }

  /** The client's current streak of failures (0 when none is held). */
  streak(clientKey: string): number {
    return this.#current.get(clientKey) ?? this.#previous.get(clientKey) ?? 0;
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  #set(clientKey: string, streak: number): void {
    if (!this.#current.has(clientKey) && this.#current.size >= this.#max) {
      // A full generation becomes the previous one; the one before it is dropped whole (no per-entry eviction walk).
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#previous.delete(clientKey);
    this.#current.set(clientKey, streak);
  }
}
