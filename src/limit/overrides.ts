import type { LimitSpec } from './algorithms/types.js';
import type { Clock } from './stores/store.js';
import { RecentLabels } from './recent-labels.js';

/** What an operator set for one client key (admin API `PUT /v1/limits/:key`). */
export type Override =
  | { readonly kind: 'limit'; readonly requestsPerSecond: number; readonly burst: number; readonly expiresAt: number | null; readonly setBy: string }
  | { readonly kind: 'block'; readonly expiresAt: number | null; readonly setBy: string };

/** An override as the request path uses it: a block, or the limit that replaces the client's own. */
export interface ActiveOverride {
  readonly override: Override;
  /** The token bucket standing in for the client's limits (absent for a block). */
  readonly spec: LimitSpec | undefined;
}

/**
 * Per-client overrides. The request path reads them synchronously from this
 * process's table; where they are kept for other instances (Redis) is the
 * job of a `OverrideSync` that fills the table (redis-overrides.ts), so a
 * lookup never waits on the network.
 */
export interface Overrides {
  /**
   * The override in force for a client's label (`id:acme`, `ip:10.0.0.7`,
   * `key:<12 hex>`, `jwt:<12 hex>`), if any. Keyed by the label, not the
   * state key: every form the admin API accepts resolves to the label, and
   * the label is what an operator reads in the log.
   */
  get(label: string): ActiveOverride | undefined;
  set(key: string, override: Override): Promise<void>;
  delete(key: string): Promise<boolean>;
  /** The state keys behind digest labels this process has seen (the admin API's `seen` for a label). */
  readonly recent: RecentLabels;
  /** Resolves once the overrides in force are known (a shared store read once), or when waiting gives up. */
  whenReady?(): Promise<void>;
  close(): Promise<void>;
}

/** The in-process table: expiry by the injected clock, the spec of each limit override built once. */
export class OverrideTable {
  readonly #entries = new Map<string, ActiveOverride>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get(key: string): ActiveOverride | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    const { expiresAt } = entry.override;
    if (expiresAt !== null && this.#clock() >= expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  put(key: string, override: Override): void {
    this.#entries.set(key, { override, spec: override.kind === 'limit' ? overrideSpec(key, override.requestsPerSecond, override.burst) : undefined });
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  /** Replaces everything (a sync from the shared store), keeping entries that did not change so their state survives. */
  replaceAll(next: ReadonlyMap<string, Override>): void {
    for (const key of [...this.#entries.keys()]) if (!next.has(key)) this.#entries.delete(key);
    for (const [key, override] of next) {
      const held = this.#entries.get(key)?.override;
      if (held === undefined || JSON.stringify(held) !== JSON.stringify(override)) this.put(key, override);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** An embedded-store gateway: the table is all there is. */
export class LocalOverrides implements Overrides {
  readonly #table: OverrideTable;
  readonly recent = new RecentLabels();

  constructor(clock: Clock) {
    this.#table = new OverrideTable(clock);
  }

  get(key: string): ActiveOverride | undefined {
    return this.#table.get(key);
  }

  async set(key: string, override: Override): Promise<void> {
    this.#table.put(key, override);
  }

  async delete(key: string): Promise<boolean> {
    return this.#table.delete(key);
  }

  async close(): Promise<void> {}
}

/**
 * The limit an override stands for: a client-scoped token bucket whose id
 * names the key and its numbers, so a changed override starts a fresh bucket
 * and the same override on every instance shares one (on Redis).
 */
function overrideSpec(key: string, rate: number, burst: number): LimitSpec {
  return {
    id: `override:${key}:${rate}:${burst}`,
    algorithm: 'token_bucket',
    scope: 'client',
    rate,
    capacity: burst,
    windowMs: (burst / rate) * 1000,
    mode: 'enforce',
    leaseMs: 60_000,
  };
}
