import type { ClientIdentity } from './keys.js';

const DEFAULT_MAX = 10_000;

/**
 * The state key behind each label this process has seen lately, for the
 * clients whose label is a digest prefix (`key:<12 hex>`, `jwt:<12 hex>`):
 * the admin API, given only a label, can then read that client's live state.
 * The request path pays one Map lookup per request of such a client and
 * writes only when a label is new (or now stands for another key); at `max`
 * entries the oldest goes first (insertion order). Per process: an instance
 * that never saw the client does not know its label (the raw or sha256: form
 * names the state keys anywhere).
 */
export class RecentLabels {
  readonly #keys = new Map<string, string>();
  readonly #max: number;

  constructor(max = DEFAULT_MAX) {
    this.#max = max;
  }

  note(client: ClientIdentity): void {
    if (client.key === client.label || this.#keys.get(client.label) === client.key) return;
    this.#keys.delete(client.label);
    if (this.#keys.size >= this.#max) this.#keys.delete(this.#keys.keys().next().value as string);
    this.#keys.set(client.label, client.key);
  }

  /** The state key last seen under `label`, if this process has seen it. */
  keyOf(label: string): string | undefined {
    return this.#keys.get(label);
  }

  get size(): number {
    return this.#keys.size;
  }
}
