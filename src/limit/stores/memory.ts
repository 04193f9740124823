import type { LimitPolicy, MemoryStoreConfig } from '../../config/types.js';
import type { LimitDecision } from '../decision.js';
import { takeToken } from '../algorithms/token-bucket.js';
import { monotonicClock, type Clock, type LimitStore, type StoreHealth } from './store.js';
import { BucketTable, keyHash } from './bucket-table.js';
import { randomInt } from 'node:crypto';

/** How many slots one sweep tick examines per policy, so a tick never stalls the event loop. */
const SWEEP_BATCH = 50_000;

/**
 * The embedded store. Bounded two ways:
 * - a bucket that has refilled to full is the same as no bucket, so the sweeper
 *   forgets it (lossless);
 * - a hard cap on buckets. At the cap a NEW client is refused (429, reason
 *   `capacity`) until a bucket refills and is forgotten; no existing bucket is
 *   ever evicted early. Evicting (LRU) would hand a flooding client a fresh
 *   full bucket each time it pushed its own out; refusing newcomers keeps every
 *   limit exact and bounds memory, at the price of newcomers waiting while the
 *   table is full of unique keys.
 */
export class MemoryStore implements LimitStore {
  readonly #tables = new Map<string, BucketTable>();
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #reclaimIntervalMs: number;
  readonly #timer: NodeJS.Timeout | undefined;
  #held = 0;
  // Per process, so which keys would share a bucket cannot be worked out from outside.
  readonly #seed = randomInt(2 ** 31);
  // At the cap, a full scan for reclaimable buckets is pointless before this instant.
  #nextReclaimAt = 0;

  constructor(config: MemoryStoreConfig, options: { clock?: Clock; autoSweep?: boolean } = {}) {
    this.#clock = options.clock ?? monotonicClock;
    this.#maxKeys = config.maxKeys;
    this.#reclaimIntervalMs = config.sweepIntervalMs;
    if (options.autoSweep !== false) {
      this.#timer = setInterval(() => this.sweep(SWEEP_BATCH), config.sweepIntervalMs);
      this.#timer.unref();
    }
  }

  consume(policy: LimitPolicy, key: string): LimitDecision {
    const now = this.#clock();
    let table = this.#tables.get(policy.id);
    if (table === undefined) {
      table = new BucketTable();
      this.#tables.set(policy.id, table);
    }
    const hash = keyHash(key, this.#seed);
    const slot = table.find(hash);
    const step = takeToken(slot === -1 ? undefined : table.fullAtOf(slot), now, policy);
    if (step.allowed) {
      if (slot !== -1) table.setFullAt(slot, step.fullAt);
      else {
        if (this.#held >= this.#maxKeys && !this.#reclaim(now)) return this.#refuseAtCapacity(policy, now);
        table.insert(hash, step.fullAt);
        this.#held++;
      }
    }
    return {
      allowed: step.allowed,
      policy,
      remaining: step.remaining,
      resetSeconds: step.resetSeconds,
      retryAfterSeconds: step.retryAfterSeconds,
    };
  }

  size(): number {
    return this.#held;
  }

  health(): StoreHealth {
    return 'ok';
  }

  /** One sweeper tick: forgets full buckets, examining at most `budget` per table. Public for tests. */
  sweep(budget = SWEEP_BATCH): void {
    const now = this.#clock();
    for (const table of this.#tables.values()) {
      const before = table.size;
      table.sweep(now, budget);
      this.#held -= before - table.size;
    }
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#tables.clear();
    this.#held = 0;
  }

  /**
   * At the cap: forget every full bucket. A full scan costs O(cap), so under a
   * flood of unique keys it runs at most once per sweep interval, and never
   * before the earliest bucket can have refilled.
   */
  #reclaim(now: number): boolean {
    if (now < this.#nextReclaimAt) return false;
    let earliest = Infinity;
    for (const table of this.#tables.values()) {
      const before = table.size;
      earliest = Math.min(earliest, table.sweepAll(now));
      this.#held -= before - table.size;
    }
    this.#nextReclaimAt = Math.max(earliest, now + this.#reclaimIntervalMs);
    return this.#held < this.#maxKeys;
  }

  #refuseAtCapacity(policy: LimitPolicy, now: number): LimitDecision {
    const wait = this.#nextReclaimAt - now;
    return {
      allowed: false,
      policy,
      remaining: 0,
      resetSeconds: 0,
      retryAfterSeconds: Math.max(1, Math.ceil(wait / 1000)),
      reason: 'capacity',
    };
  }
}
