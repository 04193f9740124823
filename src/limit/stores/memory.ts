import { randomInt } from 'node:crypto';
import type { MemoryStoreConfig } from '../../config/types.js';
import type { Algorithm, LimitSpec, Step } from '../algorithms/types.js';
import { ALGORITHMS, STATE_WIDTH } from '../algorithms/index.js';
import { release as releaseSlot } from '../algorithms/concurrency.js';
import { enforcedAllow, monotonicClock, type CheckOptions, type Clock, type LimitCheck, type LimitOutcome, type LimitStore, type StoreHealth } from './store.js';
import { StateTable, keyHash } from './bucket-table.js';
import { IdleQueue } from './idle-queue.js';

/** How many slots one sweep tick examines per limit, so a tick never stalls the event loop. */
const SWEEP_BATCH = 50_000;

export interface MemoryStoreOptions {
  /** Injected so tests control time. */
  clock?: Clock;
  /** false: no sweeper timer (tests, simulate: they call sweep()). */
  autoSweep?: boolean;
  /** Called on each request refused because the store is full of states that all still limit someone. */
  onCapacityRefusal?: () => void;
}

/** One limit's table, its place in the idle queue, and the spec now in force for it. */
interface TableEntry {
  readonly table: StateTable;
  readonly index: number;
  spec: LimitSpec;
}

/**
 * The embedded store: one StateTable per limit. Bounded two ways:
 * - a state that decides as no state would (a full bucket, an ended window)
 *   is forgotten by the sweeper (lossless);
 * - a hard cap on states. At the cap, a request needing a NEW state first
 *   makes room by forgetting states that have gone idle since the last sweep,
 *   earliest first (IdleQueue: no scan); it is refused (429, reason
 *   `capacity`) only when every state held still limits someone. No such
 *   state is ever evicted: evicting one (LRU) would hand a flooding client a
 *   fresh full bucket each time it pushed its own out. So every limit stays
 *   exact and memory bounded, at the price of newcomers waiting while the
 *   table is full of clients that all spent part of their budget.
 *
 * Synchronous, so a check is atomic by construction: every limit is decided,
 * then either all allowed steps are stored or none is.
 */
export class MemoryStore implements LimitStore {
  // Keyed by limit id and algorithm. The spec is the latest one: a reload may change a limit's numbers under the
  // same id, and forgetting (idleAt) must follow the numbers now in force, as Redis expiry does from the next decision on.
  readonly #tables = new Map<string, TableEntry>();
  readonly #byIndex: TableEntry[] = [];
  readonly #clock: Clock;
  readonly #maxKeys: number;
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #onCapacityRefusal: (() => void) | undefined;
  #held = 0;
  // Units taken out for workers to spend locally (cluster/grants.ts), by table index and key hash: empty but with workers.
  readonly #outstanding = new Map<string, number>();
  // Per process, so which keys would share a state cannot be worked out from outside.
  readonly #seed = randomInt(2 ** 31);
  // Every held state by idle instant, kept only while the store is near its cap (built when a newcomer first
  // finds it full, dropped once sweeps bring it under half): far from the cap it would cost for nothing.
  #idle: IdleQueue | undefined;

  constructor(config: MemoryStoreConfig, options: MemoryStoreOptions = {}) {
    this.#clock = options.clock ?? monotonicClock;
    this.#maxKeys = config.maxKeys;
    this.#onCapacityRefusal = options.onCapacityRefusal;
    if (options.autoSweep !== false) {
      this.#timer = setInterval(() => this.sweep(SWEEP_BATCH), config.sweepIntervalMs);
      this.#timer.unref();
    }
  }

  check(check: LimitCheck, options?: CheckOptions): LimitOutcome {
    const now = this.#clock();
    const { limits, keys, cost } = check;
    const n = limits.length;
    const entries = new Array<TableEntry>(n);
    const hashes = new Array<number>(n);
    const slots = new Array<number>(n);
    const steps = new Array<Step>(n);
    let fresh = 0;
    for (let i = 0; i < n; i++) {
      const spec = limits[i] as LimitSpec;
      const entry = this.#entry(spec);
      const hash = keyHash(keys[i] as string, this.#seed);
      const slot = entry.table.find(hash);
      const state = slot === -1 ? undefined : entry.table.read(slot);
      const step = ALGORITHMS[spec.algorithm].step(this.#outstanding.size === 0 ? state : this.#capped(state, entry.index, hash, spec, now), now, spec, cost);
      entries[i] = entry;
      hashes[i] = hash;
      slots[i] = slot;
      steps[i] = step;
      if (slot === -1 && step.allowed) fresh++;
    }
    const allowed = enforcedAllow(limits, steps);
    if (!allowed || options?.dryRun) return { allowed, steps };
    if (fresh > 0 && this.#held + fresh > this.#maxKeys && !this.#makeRoom(now, fresh, entries, hashes)) return this.#refuseAtCapacity(steps, now);
    let holdsSlot = false;
    for (let i = 0; i < n; i++) {
      const step = steps[i] as Step;
      if (!step.allowed) continue; // a shadow limit that would refuse stores nothing
      const { table, index } = entries[i] as TableEntry;
      const spec = limits[i] as LimitSpec;
      const hash = hashes[i] as number;
      // An insert may move slots (a rebuild): look again when this check inserts.
      const slot = fresh > 0 ? table.find(hash) : (slots[i] as number);
      if (slot === -1) {
        table.insert(hash, step.next);
        this.#held++;
        const at = this.#idle === undefined ? Infinity : ALGORITHMS[spec.algorithm].idleAt(step.next, spec);
        if (at !== Infinity) this.#idle?.push(at, index, hash);
      } else table.write(slot, step.next);
      if (spec.algorithm === 'concurrency') holdsSlot = true;
    }
    if (!holdsSlot) return { allowed, steps };
    return { allowed, steps, release: this.#releaser(check, hashes, steps) };
  }

  /**
   * Takes `units` from every limit of `check` at once, for a worker to spend
   * locally (cluster/grants.ts): a check of that cost whose units stay
   * counted as held out, so the limit refills to at most capacity minus them
   * until `unhold`. Only checks whose limits are all enforced buckets (see
   * `holdable`); the outcome of taking them, nothing taken when refused.
   */
  hold(check: LimitCheck, units: number): LimitOutcome {
    if (!holdable(check.limits) || !(units > 0)) return { allowed: false, steps: check.limits.map(() => NOTHING_HELD) };
    const outcome = this.check({ group: check.group, limits: check.limits, keys: check.keys, cost: units });
    if (!outcome.allowed) return outcome;
    check.limits.forEach((spec, i) => {
      const key = outstandingKey(this.#entry(spec).index, keyHash(check.keys[i] as string, this.#seed));
      this.#outstanding.set(key, (this.#outstanding.get(key) ?? 0) + units);
    });
    return outcome;
  }

  /**
   * Ends a hold of `units` on `check`'s limits, giving `unspent` of them back
   * (capped: never above what the limit would hold). The limit's numbers are
   * the ones in force now (a reload, or adaptive protection scaling a client's
   * limits, may have changed them while the units were out); when they are
   * not the numbers the units were taken under, nothing is given back, since
   * what those units are worth now is unknown (stricter, never looser). A
   * state the sweeper forgot meanwhile is written again, even at the cap:
   * without it the limit would forget the units still held out of it, and
   * there are at most as many as grants outstanding.
   */
  unhold(check: LimitCheck, units: number, unspent: number): void {
    const now = this.#clock();
    check.limits.forEach((taken, i) => {
      const entry = this.#tables.get(tableKey(taken));
      if (entry === undefined) return;
      const hash = keyHash(check.keys[i] as string, this.#seed);
      const key = outstandingKey(entry.index, hash);
      const held = this.#outstanding.get(key);
      if (held === undefined) return;
      const after = Math.max(0, held - units);
      if (after === 0) this.#outstanding.delete(key);
      else this.#outstanding.set(key, after);
      const spec = entry.spec;
      const algorithm = ALGORITHMS[spec.algorithm];
      const capHeld = algorithm.capHeld as NonNullable<Algorithm['capHeld']>;
      const credit = algorithm.credit as NonNullable<Algorithm['credit']>;
      const given = sameNumbers(spec, taken) ? Math.min(units, unspent) : 0;
      const { table } = entry;
      const slot = table.find(hash);
      const current = capHeld(slot === -1 ? undefined : table.read(slot), now, spec, held);
      const next = capHeld(given > 0 ? credit(current, spec, given) : current, now, spec, after);
      if (slot !== -1) return table.write(slot, next);
      table.insert(hash, next);
      this.#held++;
      const at = this.#idle === undefined ? Infinity : algorithm.idleAt(next, spec);
      if (at !== Infinity) this.#idle?.push(at, entry.index, hash);
    });
  }

  /** A state as its limit sees it with units held out of it (hold). */
  #capped(state: readonly number[] | undefined, index: number, hash: number, spec: LimitSpec, now: number): readonly number[] | undefined {
    const held = this.#outstanding.get(outstandingKey(index, hash));
    const cap = ALGORITHMS[spec.algorithm].capHeld;
    return held === undefined || cap === undefined ? state : cap(state, now, spec, held);
  }

  holds(check: LimitCheck): boolean {
    return check.limits.some((spec, i) => {
      const table = this.#tables.get(tableKey(spec))?.table;
      return table !== undefined && table.find(keyHash(check.keys[i] as string, this.#seed)) !== -1;
    });
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
    for (const { table } of this.#byIndex) {
      const before = table.size;
      table.sweep(now, budget);
      this.#held -= before - table.size;
    }
    // Far from the cap the queue is dead weight; mostly entries of swept states, it is cheaper rebuilt when next needed.
    const idle = this.#idle;
    if (idle !== undefined && (this.#held <= this.#maxKeys / 2 || idle.size > 2 * this.#held + 1024)) this.#idle = undefined;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#tables.clear();
    this.#byIndex.length = 0;
    this.#idle = undefined;
    this.#held = 0;
    this.#outstanding.clear();
  }

  /** One table per limit id and algorithm: a reload that changes a limit's algorithm changes the state's shape, so it starts afresh. */
  #entry(spec: LimitSpec): TableEntry {
    const key = tableKey(spec);
    let entry = this.#tables.get(key);
    if (entry === undefined) {
      const algorithm = ALGORITHMS[spec.algorithm];
      const table = new StateTable(STATE_WIDTH[spec.algorithm], (state) => algorithm.idleAt(state, (entry as TableEntry).spec));
      entry = { table, index: this.#byIndex.length, spec };
      this.#tables.set(key, entry);
      this.#byIndex.push(entry);
    } else if (entry.spec !== spec) {
      // New numbers may make states idle sooner than the queue says: it is rebuilt when next needed.
      if (!sameNumbers(entry.spec, spec)) this.#idle = undefined;
      entry.spec = spec;
    }
    return entry;
  }

  /** Gives back the concurrency slots one admitted request took; idempotent. */
  #releaser(check: LimitCheck, hashes: number[], steps: Step[]): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      check.limits.forEach((spec, i) => {
        if (spec.algorithm !== 'concurrency' || !(steps[i] as Step).allowed) return;
        const table = this.#tables.get(tableKey(spec))?.table;
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
   * At the cap: forgets states that have gone idle, earliest first, until
   * `needed` new ones fit. Each entry that comes due costs O(log n), and is
   * either forgotten or pushed again at its later instant (a write moved it),
   * so a flood of newcomers never costs a scan. The check's own states are
   * left alone: it is about to write them. False when every state left still
   * limits someone.
   */
  #makeRoom(now: number, needed: number, mine: readonly TableEntry[], myHashes: readonly number[]): boolean {
    const idle = (this.#idle ??= this.#buildIdle());
    const setAside: number[] = [];
    while (this.#held + needed > this.#maxKeys && idle.topAt <= now) {
      const at = idle.topAt;
      const index = idle.topTable;
      const hash = idle.topHash;
      idle.pop();
      const { table } = this.#byIndex[index] as TableEntry;
      const slot = table.find(hash);
      if (slot === -1) continue; // forgotten meanwhile (swept, released)
      const idleAt = table.idleAtOf(slot);
      if (idleAt > now) {
        if (idleAt !== Infinity) idle.push(idleAt, index, hash);
      } else if (mine.some((e, i) => e.index === index && myHashes[i] === hash)) setAside.push(at, index, hash);
      else {
        table.remove(slot);
        this.#held--;
      }
    }
    for (let i = 0; i < setAside.length; i += 3) idle.push(setAside[i] as number, setAside[i + 1] as number, setAside[i + 2] as number);
    return this.#held + needed <= this.#maxKeys;
  }

  /** Every held state by its idle instant (held concurrency slots, never idle, are left out). */
  #buildIdle(): IdleQueue {
    const idle = new IdleQueue();
    for (const { table, index } of this.#byIndex) {
      table.forEachIdleAt((hash, at) => {
        if (at !== Infinity) idle.append(at, index, hash);
      });
    }
    idle.heapify();
    return idle;
  }

  /** Wait: until the earliest state can go idle (a lower bound), at least a second; unknown (only held slots): a second. */
  #refuseAtCapacity(steps: readonly Step[], now: number): LimitOutcome {
    this.#onCapacityRefusal?.();
    const earliest = this.#idle?.topAt ?? Infinity;
    const wait = earliest === Infinity ? 1000 : Math.max(1000, earliest - now);
    return {
      allowed: false,
      steps: steps.map(() => ({ allowed: false, remaining: 0, resetMs: 0, retryAfterMs: wait })),
      reason: 'capacity',
    };
  }
}

const outstandingKey = (index: number, hash: number): string => `${index}:${hash}`;

const NOTHING_HELD = { allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 0 };

/** Whether a check's units may be held out for a worker (MemoryStore.hold): every limit an enforced bucket, where nothing but time gives units back. */
export function holdable(limits: readonly LimitSpec[]): boolean {
  if (limits.length === 0) return false;
  for (const spec of limits) if (spec.mode !== 'enforce' || ALGORITHMS[spec.algorithm].capHeld === undefined) return false;
  return true;
}

const tableKey = (spec: LimitSpec): string => `${spec.id}\u0000${spec.algorithm}`;

const sameNumbers = (a: LimitSpec, b: LimitSpec): boolean => a.rate === b.rate && a.capacity === b.capacity && a.windowMs === b.windowMs;
