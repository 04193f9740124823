import { OverrideTable, type ActiveOverride, type Override, type Overrides } from '../limit/overrides.js';
import { RecentLabels } from '../limit/recent-labels.js';

/** How often a worker reports the digest labels it saw first (admin API lookups by `key:<hex>` follow within this). */
const LABEL_REPORT_MS = 100;

/**
 * A worker's copy of the overrides, on the memory store: the primary holds
 * them (the admin API runs there) and pushes every change to every worker
 * before it answers (cluster/primary.ts), so a block binds on all workers at
 * once; the request path reads this table synchronously, as with one process.
 * Digest labels the worker sees are reported back in batches, so the
 * primary's admin API can resolve `key:<12 hex>` to a state key.
 */
export class ReplicaOverrides implements Overrides {
  readonly #table = new OverrideTable(Date.now);
  readonly recent: RecentLabels;

  constructor(report: (entries: [string, string][]) => void) {
    this.recent = new ReportingLabels(report);
  }

  get(label: string): ActiveOverride | undefined {
    return this.#table.get(label);
  }

  /** The primary's changes (`null`: deleted), or with `replace` the whole set. */
  apply(entries: readonly (readonly [string, Override | null])[], replace: boolean): void {
    if (replace) {
      const all = new Map<string, Override>();
      for (const [key, override] of entries) if (override !== null) all.set(key, override);
      this.#table.replaceAll(all);
      return;
    }
    for (const [key, override] of entries) {
      if (override === null) this.#table.delete(key);
      else this.#table.put(key, override);
    }
  }

  // Only the primary's admin API changes overrides; a worker has no caller for these.
  async set(key: string, override: Override): Promise<void> {
    this.#table.put(key, override);
  }

  async delete(key: string): Promise<boolean> {
    return this.#table.delete(key);
  }

  async close(): Promise<void> {
    (this.recent as ReportingLabels).stop();
  }
}

/** RecentLabels that also sends what is new to the primary, batched. */
class ReportingLabels extends RecentLabels {
  readonly #report: (entries: [string, string][]) => void;
  #pending: [string, string][] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(report: (entries: [string, string][]) => void) {
    super();
    this.#report = report;
  }

  override remember(label: string, key: string): boolean {
    if (!super.remember(label, key)) return false;
    this.#pending.push([label, key]);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#flush(), LABEL_REPORT_MS);
      this.#timer.unref();
    }
    return true;
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#flush();
  }

  #flush(): void {
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const entries = this.#pending;
    this.#pending = [];
    this.#report(entries);
  }
}
