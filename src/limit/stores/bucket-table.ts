/**
 * The state of one limit for every client, in two typed arrays: the key
 * hashes and `width` numbers of algorithm state per slot (8 bytes each), and
 * no JavaScript object or string per client, so 100k token-bucket clients
 * cost about 5 MB and the garbage collector has nothing to trace.
 *
 * An open-addressing hash table (linear probing, load <= 1/2) keyed by a
 * 53-bit hash of the client key, which stands for the key itself. Two clients
 * whose keys hash alike would share one state; with a per-process random seed
 * the chance is about n^2 / 2^54 (6e-5 for a million clients), it cannot be
 * aimed at from outside, and its effect is a stricter limit, never a looser one.
 */
export class StateTable {
  readonly #width: number;
  /** The instant a state decides as no state would (algorithms' idleAt): then it may be forgotten. */
  readonly #idleAt: (state: readonly number[]) => number;
  #hashes = new Float64Array(MIN_CAPACITY);
  #states: Float64Array;
  #live = 0;
  // Live slots plus tombstones: what decides when probing chains need a rebuild.
  #used = 0;
  #cursor = 0;
  readonly #scratch: number[];

  constructor(width: number, idleAt: (state: readonly number[]) => number) {
    this.#width = width;
    this.#idleAt = idleAt;
    this.#states = new Float64Array(MIN_CAPACITY * width);
    this.#scratch = new Array<number>(width).fill(0);
  }

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

  /** A copy of the state in `slot`. */
  read(slot: number): number[] {
    const out = new Array<number>(this.#width);
    for (let j = 0; j < this.#width; j++) out[j] = this.#states[slot * this.#width + j] as number;
    return out;
  }

  write(slot: number, state: readonly number[]): void {
    for (let j = 0; j < this.#width; j++) this.#states[slot * this.#width + j] = state[j] as number;
  }

  /** Adds a state for a hash that `find` just reported absent. */
  insert(hash: number, state: readonly number[]): void {
    if ((this.#used + 1) * 2 > this.#hashes.length) this.#rebuild();
    const hashes = this.#hashes;
    const mask = hashes.length - 1;
    let i = (hash >>> 0) & mask;
    while (hashes[i] !== EMPTY && hashes[i] !== TOMBSTONE) i = (i + 1) & mask;
    if (hashes[i] === EMPTY) this.#used++;
    hashes[i] = hash;
    this.write(i, state);
    this.#live++;
  }

  /** Forgets the state in `slot` (a released concurrency slot back at zero). */
  remove(slot: number): void {
    this.#hashes[slot] = TOMBSTONE;
    this.#live--;
  }

  /** Forgets idle states, examining at most `budget` slots from where the last call stopped. */
  sweep(now: number, budget: number): void {
    const end = Math.min(this.#hashes.length, this.#cursor + budget);
    for (let i = this.#cursor; i < end; i++) this.#forgetIfIdle(i, now);
    this.#cursor = end >= this.#hashes.length ? 0 : end;
  }

  /** Forgets every state idle at `now`; returns the earliest instant one of the rest becomes idle. */
  sweepAll(now: number): number {
    let earliest = Infinity;
    for (let i = 0; i < this.#hashes.length; i++) {
      const idleAt = this.#forgetIfIdle(i, now);
      if (idleAt !== undefined) earliest = Math.min(earliest, idleAt);
    }
    return earliest;
  }

  /** The instant the state in `slot` becomes idle (decides as no state would). */
  idleAtOf(slot: number): number {
    const scratch = this.#scratch;
    for (let j = 0; j < this.#width; j++) scratch[j] = this.#states[slot * this.#width + j] as number;
    return this.#idleAt(scratch);
  }

  /** Calls `visit` with each live state's hash and idle instant. */
  forEachIdleAt(visit: (hash: number, idleAt: number) => void): void {
    for (let i = 0; i < this.#hashes.length; i++) {
      const h = this.#hashes[i] as number;
      if (h !== EMPTY && h !== TOMBSTONE) visit(h, this.idleAtOf(i));
    }
  }

  /** Forgets slot `i` if it is idle; for a live slot left in place, its idle instant. */
  #forgetIfIdle(i: number, now: number): number | undefined {
    const h = this.#hashes[i];
    if (h === EMPTY || h === TOMBSTONE) return undefined;
    const idleAt = this.idleAtOf(i);
    if (idleAt > now) return idleAt;
    this.remove(i);
    return undefined;
  }

  /** Doubles the table when it is mostly live, else rebuilds it at its size to drop tombstones. */
  #rebuild(): void {
    const oldHashes = this.#hashes;
    const oldStates = this.#states;
    const w = this.#width;
    const capacity = this.#live * 4 >= oldHashes.length ? oldHashes.length * 2 : oldHashes.length;
    this.#hashes = new Float64Array(capacity);
    this.#states = new Float64Array(capacity * w);
    this.#live = 0;
    this.#used = 0;
    this.#cursor = 0;
    for (let i = 0; i < oldHashes.length; i++) {
      const h = oldHashes[i] as number;
      if (h !== EMPTY && h !== TOMBSTONE) this.insert(h, Array.from(oldStates.subarray(i * w, i * w + w)));
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
