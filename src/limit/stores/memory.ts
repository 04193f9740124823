import type { LimitPolicy, MemoryStoreConfig } from '../../config/types.js';
import type { LimitDecision } from '../decision.js';
import { takeToken } from '../algorithms/token-bucket.js';
import { monotonicClock, type Clock, type LimitStore, type StoreHealth } from './store.js';

/** How many buckets one sweep tick examines, so a tick never stalls the event loop. */
const SWEEP_BATCH = 50_000;

/**
 * Buckets of one policy: a Map from client key to a slot in a Float64Array that
 * holds the bucket's `fullAt`. One number per client, no object per client, so
 * 100k clients cost a few MB.
 */
class BucketTable {
  readonly slots = new Map<string, number>();
  fullAt = new Float64Array(1024);
  readonly free: number[] = [];
  #next = 0;
  #sweep: Iterator<[string, number]> | undefined;

  allocate(key: string): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.#next++;
      if (slot >= this.fullAt.length) {
        const grown = new Float64Array(this.fullAt.length * 2);
        grown.set(this.fullAt);
        this.fullAt = grown;
      }
    }
    this.slots.set(key, slot);
    return slot;
  }

  /** Forgets up to `budget` buckets that are full again at `now`; returns how many it examined. */
  sweep(now: number, budget: number): number {
    this.#sweep ??= this.slots.entries();
    let examined = 0;
    while (examined < budget) {
      const step = this.#sweep.next();
      if (step.done) {
        this.#sweep = undefined;
        break;
      }
      examined++;
      const [key, slot] = step.value;
      if ((this.fullAt[slot] as number) <= now) {
        this.slots.delete(key); // deleting behind a live Map iterator is safe
        this.free.push(slot);
      }
    }
    return examined;
  }

  /** Forgets every bucket that is full at `now`; returns the earliest `fullAt` among the rest. */
  sweepAll(now: number): number {
    let earliest = Infinity;
    for (const [key, slot] of this.slots) {
      const fullAt = this.fullAt[slot] as number;
      if (fullAt <= now) {
        this.slots.delete(key);
        this.free.push(slot);
      } else if (fullAt < earliest) {
        earliest = fullAt;
      }
    }
    return earliest;
  }
}

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
    let slot = table.slots.get(key);
    const step = takeToken(slot === undefined ? undefined : table.fullAt[slot], now, policy);
    if (step.allowed) {
      if (slot === undefined) {
        if (this.#held >= this.#maxKeys && !this.#reclaim(now)) return this.#refuseAtCapacity(policy, now);
        slot = table.allocate(key);
        this.#held++;
      }
      table.fullAt[slot] = step.fullAt;
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
      const before = table.slots.size;
      table.sweep(now, budget);
      this.#held -= before - table.slots.size;
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
      const before = table.slots.size;
      earliest = Math.min(earliest, table.sweepAll(now));
      this.#held -= before - table.slots.size;
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
