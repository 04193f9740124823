/**
 * The memory store's states ordered by the instant each goes idle (its
 * algorithm's idleAt: from then on it decides as no state would, so
 * forgetting it loses nothing), so that a store at its cap can forget the
 * earliest-idle states first without scanning every table.
 *
 * A binary min-heap of (at, table, hash) in typed arrays: no object per
 * entry. `at` is the idle instant when the entry was pushed. A write only
 * ever moves a state's idle instant later (a request spends, time only moves
 * forward), so `at` is a lower bound: the store checks an entry that comes
 * due against the state itself, and pushes it again at its current instant
 * when that is later. Entries of states forgotten meanwhile (the sweeper, a
 * released slot) are dropped when they come up.
 */
export class IdleQueue {
  #at = new Float64Array(INITIAL);
  #hash = new Float64Array(INITIAL);
  #table = new Uint32Array(INITIAL);
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The earliest entry's instant; Infinity when empty. */
  get topAt(): number {
    return this.#size === 0 ? Infinity : (this.#at[0] as number);
  }

  get topTable(): number {
    return this.#table[0] as number;
  }

  get topHash(): number {
    return this.#hash[0] as number;
  }

  push(at: number, table: number, hash: number): void {
    this.append(at, table, hash);
    this.#up(this.#size - 1);
  }

  /** Adds an entry out of order: call `heapify` once the last one is in (O(n) for a whole build). */
  append(at: number, table: number, hash: number): void {
    if (this.#size === this.#at.length) this.#grow();
    const i = this.#size++;
    this.#at[i] = at;
    this.#table[i] = table;
    this.#hash[i] = hash;
  }

  heapify(): void {
    for (let i = (this.#size >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  /** Removes the earliest entry. */
  pop(): void {
    if (this.#size === 0) return;
    const last = --this.#size;
    if (last > 0) {
      this.#move(last, 0);
      this.#down(0);
    }
  }

  #up(i: number): void {
    const at = this.#at[i] as number;
    const table = this.#table[i] as number;
    const hash = this.#hash[i] as number;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#at[parent] as number) <= at) break;
      this.#move(parent, i);
      i = parent;
    }
    this.#set(i, at, table, hash);
  }

  #down(i: number): void {
    const at = this.#at[i] as number;
    const table = this.#table[i] as number;
    const hash = this.#hash[i] as number;
    const n = this.#size;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && (this.#at[child + 1] as number) < (this.#at[child] as number)) child++;
      if ((this.#at[child] as number) >= at) break;
      this.#move(child, i);
      i = child;
    }
    this.#set(i, at, table, hash);
  }

  #move(from: number, to: number): void {
    this.#set(to, this.#at[from] as number, this.#table[from] as number, this.#hash[from] as number);
  }

  #set(i: number, at: number, table: number, hash: number): void {
    this.#at[i] = at;
    this.#table[i] = table;
    this.#hash[i] = hash;
  }

  #grow(): void {
    const size = this.#at.length * 2;
    const at = new Float64Array(size);
    const hash = new Float64Array(size);
    const table = new Uint32Array(size);
    at.set(this.#at);
    hash.set(this.#hash);
    table.set(this.#table);
    this.#at = at;
    this.#hash = hash;
    this.#table = table;
  }
}

const INITIAL = 1024;
