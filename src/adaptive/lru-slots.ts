/**
 * Row numbers for up to `max` keys, least recently used forgotten first,
 * with no JavaScript object or string per key: the bucket table's discipline
 * (a seeded 53-bit hash stands for the key; see keyHash in
 * limit/stores/bucket-table.ts for why a collision is harmless and unaimable).
 *
 * Per row: its hash (Float64Array), its neighbours in recency order (two
 * Int32Arrays, a doubly linked list, so a touch is O(1)), and its place in an
 * open-addressing index (Int32Array of row + 1, linear probing, load <= 1/2)
 * that holds no hash of its own: it compares through the rows' hashes. Rows
 * are handed out 0, 1, 2, ... and, once `max` are live, the least recently
 * used row is taken over; none is ever freed otherwise, so there is no free
 * list. Arrays start small and double up to `max`; the owner's per-row arrays
 * follow through `onGrow`.
 */
export class LruSlots {
  readonly #max: number;
  readonly #onGrow: (capacity: number) => void;
  #hashes: Float64Array;
  #older: Int32Array;
  #newer: Int32Array;
  #index: Int32Array;
  #size = 0;
  // Most and least recently used rows; -1 when empty.
  #newest = -1;
  #oldest = -1;

  constructor(max: number, onGrow: (capacity: number) => void) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be a positive integer, got ${max}`);
    this.#max = max;
    this.#onGrow = onGrow;
    const capacity = Math.min(max, MIN_CAPACITY);
    this.#hashes = new Float64Array(capacity);
    this.#older = new Int32Array(capacity);
    this.#newer = new Int32Array(capacity);
    this.#index = new Int32Array(indexLength(capacity));
  }

  get size(): number {
    return this.#size;
  }

  /** Rows the owner's arrays must hold now. */
  get capacity(): number {
    return this.#hashes.length;
  }

  /**
   * Bytes these arrays take per row, at most: hash, two links and up to four
   * index entries (the index is the power of two at least twice the rows:
   * 2.6 entries a row at 100k rows).
   */
  static readonly BYTES_PER_ROW = 8 + 4 + 4 + 4 * 4;

  /** The row holding `hash`, or -1. */
  find(hash: number): number {
    const index = this.#index;
    const mask = index.length - 1;
    for (let i = (hash >>> 0) & mask; ; i = (i + 1) & mask) {
      const entry = index[i] as number;
      if (entry === 0) return -1;
      if (this.#hashes[entry - 1] === hash) return entry - 1;
    }
  }

  /**
   * A row for a hash `find` just reported absent, now the most recently used:
   * a fresh one, or the least recently used one's, whose key is forgotten.
   * The owner resets the row's contents.
   */
  insert(hash: number): number {
    let row: number;
    if (this.#size < this.#max) {
      if (this.#size === this.#hashes.length) this.#grow();
      row = this.#size++;
    } else {
      row = this.#oldest;
      this.#unindex(row);
      this.#unlink(row);
    }
    this.#hashes[row] = hash;
    this.#indexRow(row);
    this.#linkNewest(row);
    return row;
  }

  /** Marks `row` the most recently used. */
  touch(row: number): void {
    if (row === this.#newest) return;
    this.#unlink(row);
    this.#linkNewest(row);
  }

  #linkNewest(row: number): void {
    this.#older[row] = this.#newest;
    this.#newer[row] = -1;
    if (this.#newest >= 0) this.#newer[this.#newest] = row;
    else this.#oldest = row;
    this.#newest = row;
  }

  #unlink(row: number): void {
    const older = this.#older[row] as number;
    const newer = this.#newer[row] as number;
    if (older >= 0) this.#newer[older] = newer;
    else this.#oldest = newer;
    if (newer >= 0) this.#older[newer] = older;
    else this.#newest = older;
  }

  #indexRow(row: number): void {
    const index = this.#index;
    const mask = index.length - 1;
    let i = ((this.#hashes[row] as number) >>> 0) & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = row + 1;
  }

  /** Removes `row` from the index by backward shifting (Knuth's algorithm R): no tombstones to pile up. */
  #unindex(row: number): void {
    const index = this.#index;
    const mask = index.length - 1;
    let hole = ((this.#hashes[row] as number) >>> 0) & mask;
    while (index[hole] !== row + 1) hole = (hole + 1) & mask;
    for (let j = (hole + 1) & mask; index[j] !== 0; j = (j + 1) & mask) {
      const entry = index[j] as number;
      const home = ((this.#hashes[entry - 1] as number) >>> 0) & mask;
      // The entry may fill the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? hole < home && home <= j : hole < home || home <= j;
      if (!stays) {
        index[hole] = entry;
        hole = j;
      }
    }
    index[hole] = 0;
  }

  #grow(): void {
    const capacity = Math.min(this.#max, this.#hashes.length * 2);
    this.#hashes = grown(this.#hashes, capacity, 1);
    this.#older = grown(this.#older, capacity, 1);
    this.#newer = grown(this.#newer, capacity, 1);
    this.#index = new Int32Array(indexLength(capacity));
    for (let row = 0; row < this.#size; row++) this.#indexRow(row);
    this.#onGrow(capacity);
  }
}

const MIN_CAPACITY = 1024;

/** The power of two at least twice `capacity`: the index's load stays <= 1/2. */
function indexLength(capacity: number): number {
  return 2 ** Math.ceil(Math.log2(capacity * 2));
}

/** Grows a per-row array to `capacity` rows of `width`, keeping its contents. */
export function grown<T extends Float64Array | Float32Array | Int32Array | Uint32Array>(from: T, capacity: number, width: number): T {
  const to = new (from.constructor as new (length: number) => T)(capacity * width);
  to.set(from);
  return to;
}
