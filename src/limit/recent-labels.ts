import type { ClientIdentity } from './keys.js';

const DEFAULT_MAX = 10_000;

/**
 * The state key behind each label this process has seen lately, for the
 * clients whose label is a digest prefix (`key:<12 hex>`, `jwt:<12 hex>`):
 * the admin API, given only a label, can then read that client's live state.
 * Per process: an instance that never saw the client does not know its label
 * (the raw or sha256: form names the state keys anywhere).
 *
 * Two generations of at most max/2 labels each: labels are noted in the
 * current one; when it is full it becomes the previous one and the old
 * previous is dropped whole. A label seen again while previous is promoted.
 * So at most `max` labels are held, the last max/2 distinct ones always, and
 * every note is O(1). (Evicting the oldest entry of one Map one at a time
 * walks the holes its deletes leave at the Map's front: with 100k clients
 * cycling that cost 8 µs per request.)
 */
export class RecentLabels {
  #current = new Map<string, string>();
  #previous = new Map<string, string>();
  readonly #generation: number;

  constructor(max = DEFAULT_MAX) {
    this.#generation = Math.max(1, Math.floor(max / 2));
  }

  /** True when the label was new to the current generation (or now stands for another key). */
  note(client: ClientIdentity): boolean {
    if (client.key === client.label) return false;
    return this.remember(client.label, client.key);
  }

  /** note() for a label another process saw (a worker's report to its primary). */
  remember(label: string, key: string): boolean {
    if (this.#current.get(label) === key) return false;
    if (this.#current.size >= this.#generation) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(label, key);
    return true;
  }

  /** The state key last seen under `label`, if this process has seen it. */
  keyOf(label: string): string | undefined {
    return this.#current.get(label) ?? this.#previous.get(label);
  }

  /** Labels held (a label in both generations counts twice: it is at most `max` either way). */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }
}
