/** One key's requests since the last flush, and when the latest of them arrived (epoch ms). */
export interface KeyUsage {
  requests: number;
  lastUsedAt: number;
}

/**
 * Per-key request counts, kept in memory between flushes: the request path
 * adds to a map entry, and the store writes the batch at most once a minute
 * (store.ts), never a write per request.
 */
export class UsageCounter {
  #pending = new Map<string, KeyUsage>();

  constructor(private readonly now: () => number = Date.now) {}

  count(keyId: string): void {
    const usage = this.#pending.get(keyId);
    if (usage === undefined) this.#pending.set(keyId, { requests: 1, lastUsedAt: this.now() });
    else {
      usage.requests++;
      usage.lastUsedAt = this.now();
    }
  }

  /** What has not been written yet for one key (the admin API adds it to what the database holds). */
  pending(keyId: string): KeyUsage | undefined {
    return this.#pending.get(keyId);
  }

  /** Takes everything counted so far; counting starts afresh. */
  drain(): Map<string, KeyUsage> {
    const taken = this.#pending;
    this.#pending = new Map();
    return taken;
  }

  /** Puts back a batch whose write failed, so the next flush carries it (added to what was counted since). */
  restore(batch: Map<string, KeyUsage>): void {
    for (const [id, usage] of batch) {
      const now = this.#pending.get(id);
      if (now === undefined) this.#pending.set(id, usage);
      else {
        now.requests += usage.requests;
        now.lastUsedAt = Math.max(now.lastUsedAt, usage.lastUsedAt);
      }
    }
  }
}
