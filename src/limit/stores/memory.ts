import { randomInt } from 'node:crypto';
import type { MemoryStoreConfig } from '../../config/types.js';
import type { LimitSpec, Step } from '../algorithms/types.js';
import { ALGORITHMS, STATE_WIDTH } from '../algorithms/index.js';
import { release as releaseSlot } from '../algorithms/concurrency.js';
import { enforcedAllow, monotonicClock, type CheckOptions, type Clock, type LimitCheck, type LimitOutcome, type LimitStore, type StoreHealth } from './store.js';
import { StateTable, keyHash } from './bucket-table.js';

/** How many slots one sweep tick examines per limit, so a tick never stalls the event loop. */
const SWEEP_BATCH = 50_000;

/**
 * The embedded store: one StateTable per limit. Bounded two ways:
 * - a state that decides as no state would (a full bucket, an ended window)
 *   is forgotten by the sweeper (lossless);
 * - a hard cap on states. At the cap a request needing a NEW state is
 *   refused (429, reason `capacity`) until one is forgotten; no held state is
 *   ever evicted early. Evicting (LRU) would hand a flooding client a fresh
 *   full bucket each time it pushed its own out; refusing newcomers keeps every
 *   limit exact and bounds memory, at the price of newcomers waiting while the
 *   table is full of unique keys.
 *
 * Synchronous, so a check is atomic by construction: every limit is decided,
 * then either all allowed steps are stored or none is.
 */
export class MemoryStore implements LimitStore {
  readonly #tables = new Map<string, StateTable>();
  // The latest spec of each table: a reload may change a limit's numbers under the same id, and forgetting
  // (idleAt) must follow the numbers now in force, as Redis expiry does from the next decision on.
  readonly #specs = new Map<string, LimitSpec>();
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #reclaimIntervalMs: number;
  readonly #timer: NodeJS.Timeout | undefined;
  #held = 0;
  // Per process, so which keys would share a state cannot be worked out from outside.
  readonly #seed = randomInt(2 ** 31);
  // At the cap, a full scan for reclaimable states is pointless before this instant.
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

  check(check: LimitCheck, options?: CheckOptions): LimitOutcome {
    const now = this.#clock();
    const { limits, keys, cost } = check;
    const n = limits.length;
    const tables = new Array<StateTable>(n);
    const hashes = new Array<number>(n);
    const slots = new Array<number>(n);
    const steps = new Array<Step>(n);
    let fresh = 0;
    for (let i = 0; i < n; i++) {
      const spec = limits[i] as LimitSpec;
      const table = this.#table(spec);
      const hash = keyHash(keys[i] as string, this.#seed);
      const slot = table.find(hash);
      const step = ALGORITHMS[spec.algorithm].step(slot === -1 ? undefined : table.read(slot), now, spec, cost);
      tables[i] = table;
      hashes[i] = hash;
      slots[i] = slot;
      steps[i] = step;
      if (slot === -1 && step.allowed) fresh++;
    }
    const allowed = enforcedAllow(limits, steps);
    if (!allowed || options?.dryRun) return { allowed, steps };
    if (fresh > 0 && this.#held + fresh > this.#maxKeys && !this.#reclaim(now, fresh)) return this.#refuseAtCapacity(steps, now);
    let holdsSlot = false;
    for (let i = 0; i < n; i++) {
      const step = steps[i] as Step;
      if (!step.allowed) continue; // a shadow limit that would refuse stores nothing
      const table = tables[i] as StateTable;
      // #reclaim may have moved slots: look again only when it ran.
      const slot = fresh > 0 ? table.find(hashes[i] as number) : (slots[i] as number);
      if (slot === -1) {
        table.insert(hashes[i] as number, step.next);
        this.#held++;
      } else table.write(slot, step.next);
      if ((limits[i] as LimitSpec).algorithm === 'concurrency') holdsSlot = true;
    }
    if (!holdsSlot) return { allowed, steps };
    return { allowed, steps, release: this.#releaser(check, hashes, steps) };
  }

  size(): number {
    return this.#held;
  }

  health(): StoreHealth {
    return 'ok';
  }

  /** One sweeper tick: forgets idle states, examining at most `budget` slots per limit. Public for tests. */
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
    this.#specs.clear();
    this.#held = 0;
  }

  /** One table per limit id and algorithm: a reload that changes a limit's algorithm changes the state's shape, so it starts afresh. */
  #table(spec: LimitSpec): StateTable {
    const key = tableKey(spec);
    let table = this.#tables.get(key);
    if (table === undefined) {
      const algorithm = ALGORITHMS[spec.algorithm];
      table = new StateTable(STATE_WIDTH[spec.algorithm], (state) => algorithm.idleAt(state, this.#specs.get(key) as LimitSpec));
      this.#tables.set(key, table);
    }
    if (this.#specs.get(key) !== spec) this.#specs.set(key, spec);
    return table;
  }

  /** Gives back the concurrency slots one admitted request took; idempotent. */
  #releaser(check: LimitCheck, hashes: number[], steps: Step[]): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      check.limits.forEach((spec, i) => {
        if (spec.algorithm !== 'concurrency' || !(steps[i] as Step).allowed) return;
        const table = this.#tables.get(tableKey(spec));
        const slot = table?.find(hashes[i] as number) ?? -1;
        if (table === undefined || slot === -1) return;
        const next = releaseSlot(table.read(slot));
        if (next[0] === 0) {
          table.remove(slot);
          this.#held--;
        } else table.write(slot, next);
      });
    };
  }

  /**
   * At the cap: forget every idle state. A full scan costs O(cap), so under a
   * flood of unique keys it runs at most once per sweep interval, and never
   * before the earliest state can have become idle.
   */
  #reclaim(now: number, needed: number): boolean {
    if (now < this.#nextReclaimAt) return false;
    let earliest = Infinity;
    for (const table of this.#tables.values()) {
      const before = table.size;
      earliest = Math.min(earliest, table.sweepAll(now));
      this.#held -= before - table.size;
    }
    this.#nextReclaimAt = Math.max(earliest, now + this.#reclaimIntervalMs);
    return this.#held + needed <= this.#maxKeys;
  }

  #refuseAtCapacity(steps: readonly Step[], now: number): LimitOutcome {
    const wait = Math.max(1000, this.#nextReclaimAt - now);
    return {
      allowed: false,
      steps: steps.map(() => ({ allowed: false, remaining: 0, resetMs: 0, retryAfterMs: wait })),
      reason: 'capacity',
    };
  }
}

const tableKey = (spec: LimitSpec): string => `${spec.id}\u0000${spec.algorithm}`;
