/**
 * The buckets of one policy, held in two typed arrays: 16 bytes per client and
 * no JavaScript object or string per client, so 100k clients cost about 4 MB
 * and the garbage collector has nothing to trace.
 *
 * An open-addressing hash table (linear probing, load <= 1/2) keyed by a
 * 53-bit hash of the client key, which stands for the key itself. Two clients
 * whose keys hash alike would share one bucket; with a per-process random seed
 * the chance is about n^2 / 2^54 (6e-5 for a million clients), it cannot be
 * aimed at from outside, and its effect is a stricter limit, never a looser one.
 */
export class BucketTable {
  #hashes = new Float64Array(MIN_CAPACITY);
  #fullAt = new Float64Array(MIN_CAPACITY);
  #live = 0;
  // Live slots plus tombstones: what decides when probing chains need a rebuild.
  #used = 0;
  #cursor = 0;

  get size(): number {
    return this.#live;
  }

  /** The slot holding `hash`, or -1. Slots are valid until the next insert. */
  find(hash: number): number {
    const hashes = this.#hashes;
    const mask = hashes.length - 1;
    for (let i = (hash >>> 0) & mask; ; i = (i + 1) & mask) {
      const h = hashes[i];
      if (h === hash) return i;
      if (h === EMPTY) return -1;
    }
  }

  fullAtOf(slot: number): number {
    return this.#fullAt[slot] as number;
  }

  setFullAt(slot: number, fullAt: number): void {
    this.#fullAt[slot] = fullAt;
  }

  /** Adds a bucket for a hash that `find` just reported absent. */
  insert(hash: number, fullAt: number): void {
    if ((this.#used + 1) * 2 > this.#hashes.length) this.#rebuild();
    const hashes = this.#hashes;
    const mask = hashes.length - 1;
    let i = (hash >>> 0) & mask;
    while (hashes[i] !== EMPTY && hashes[i] !== TOMBSTONE) i = (i + 1) & mask;
    if (hashes[i] === EMPTY) this.#used++;
    hashes[i] = hash;
    this.#fullAt[i] = fullAt;
    this.#live++;
  }

  /** Forgets buckets full again at `now`, examining at most `budget` slots from where the last call stopped. */
  sweep(now: number, budget: number): void {
    const hashes = this.#hashes;
    const end = Math.min(hashes.length, this.#cursor + budget);
    for (let i = this.#cursor; i < end; i++) this.#forgetIfFull(i, now);
    this.#cursor = end >= hashes.length ? 0 : end;
  }

  /** Forgets every bucket full at `now`; returns the earliest `fullAt` among the rest. */
  sweepAll(now: number): number {
    let earliest = Infinity;
    for (let i = 0; i < this.#hashes.length; i++) {
      if (this.#forgetIfFull(i, now)) continue;
      const h = this.#hashes[i];
      if (h !== EMPTY && h !== TOMBSTONE) earliest = Math.min(earliest, this.#fullAt[i] as number);
    }
    return earliest;
  }

  #forgetIfFull(i: number, now: number): boolean {
    const h = this.#hashes[i];
    if (h === EMPTY || h === TOMBSTONE || (this.#fullAt[i] as number) > now) return false;
    this.#hashes[i] = TOMBSTONE;
    this.#live--;
    return true;
  }

  /** Doubles the table when it is mostly live, else rebuilds it at its size to drop tombstones. */
  #rebuild(): void {
    const oldHashes = this.#hashes;
    const oldFullAt = this.#fullAt;
    const capacity = this.#live * 4 >= oldHashes.length ? oldHashes.length * 2 : oldHashes.length;
    this.#hashes = new Float64Array(capacity);
    this.#fullAt = new Float64Array(capacity);
    this.#live = 0;
    this.#used = 0;
    this.#cursor = 0;
    for (let i = 0; i < oldHashes.length; i++) {
      const h = oldHashes[i] as number;
      if (h !== EMPTY && h !== TOMBSTONE) this.insert(h, oldFullAt[i] as number);
    }
  }
}

const MIN_CAPACITY = 1024;
const EMPTY = 0;
const TOMBSTONE = -1;

/**
 * A seeded 53-bit hash of a client key, in [1, 2^53]: never EMPTY or
 * TOMBSTONE. cyrb53 (bryc, public domain): two 32-bit multiply-xorshift lanes.
 */
export function keyHash(key: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0) + 1;
}
