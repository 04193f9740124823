import { LocalOverrides, type ActiveOverride, type Override, type Overrides } from '../limit/overrides.js';
import type { RecentLabels } from '../limit/recent-labels.js';

/** Sends override changes (`null`: deleted) to every worker; resolves once each running worker has applied them. */
export type OverrideBroadcast = (entries: [string, Override | null][]) => Promise<void>;

/**
 * The primary's overrides on the memory store: the admin API's table
 * (LocalOverrides, expiry and all), and every change pushed to the workers'
 * replicas (replica-overrides.ts) before set/delete resolve, so when the
 * admin API answers, a block already binds on every worker. `snapshot()`
 * is what a new or restarted worker gets first.
 */
export class PrimaryOverrides implements Overrides {
  readonly #local = new LocalOverrides(Date.now);
  readonly #all = new Map<string, Override>();
  readonly #broadcast: OverrideBroadcast;

  constructor(broadcast: OverrideBroadcast) {
    this.#broadcast = broadcast;
  }

  get recent(): RecentLabels {
    return this.#local.recent;
  }

  get(label: string): ActiveOverride | undefined {
    return this.#local.get(label);
  }

  async set(key: string, override: Override): Promise<void> {
    await this.#local.set(key, override);
    this.#all.set(key, override);
    await this.#broadcast([[key, override]]);
  }

  async delete(key: string): Promise<boolean> {
    const existed = await this.#local.delete(key);
    this.#all.delete(key);
    await this.#broadcast([[key, null]]);
    return existed;
  }

  /** Every override set (expired ones too: each replica's table expires them by the same wall clock). */
  snapshot(): [string, Override][] {
    return [...this.#all];
  }

  async close(): Promise<void> {}
}
