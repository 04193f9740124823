import { LruSlots, grown } from './lru-slots.js';
import { SKETCH_WIDTH, sketchAdd, sketchClear, sketchEstimate } from './sketch.js';

/**
 * Identity churn: how many distinct client keys each network (an IPv4 /24 or
 * IPv6 /64) presented over the last minute, for spotting key rotation meant
 * to escape per-key limits. One two-minute sketch (sketch.ts) per network in
 * a bounded table, least recently seen network forgotten first: 20 + 32 bytes
 * a network, so the default 50k networks take at most 2.6 MB.
 *
 * Networks and keys arrive as seeded 53-bit hashes (keyHash), computed once by
 * the caller: the network's picks its row, the key's high bits pick its bit.
 */
export class ChurnTable {
  readonly #slots: LruSlots;
  #sketches: Uint32Array;

  constructor(maxNetworks = 50_000) {
    this.#slots = new LruSlots(maxNetworks, (capacity) => {
      this.#sketches = grown(this.#sketches, capacity, SKETCH_WIDTH);
    });
    this.#sketches = new Uint32Array(this.#slots.capacity * SKETCH_WIDTH);
  }

  /** Bytes held per network, at most. */
  static readonly BYTES_PER_NETWORK = LruSlots.BYTES_PER_ROW + SKETCH_WIDTH * 4;

  get size(): number {
    return this.#slots.size;
  }

  /** Counts the key (by its hash) under its network at `at`. O(1), allocation-free. */
  observe(networkHash: number, keyHash: number, at: number): void {
    let row = this.#slots.find(networkHash);
    if (row < 0) {
      row = this.#slots.insert(networkHash);
      sketchClear(this.#sketches, row * SKETCH_WIDTH);
    } else {
      this.#slots.touch(row);
    }
    sketchAdd(this.#sketches, row * SKETCH_WIDTH, at, keyBit(keyHash));
  }

  /** Distinct keys the network presented over the last minute as of `now`; 0 for a network not (or no longer) known. */
  distinctKeys(networkHash: number, now: number): number {
    const row = this.#slots.find(networkHash);
    return row < 0 ? 0 : sketchEstimate(this.#sketches, row * SKETCH_WIDTH, now);
  }
}

/**
 * The sketch bit for a key: from the hash's high 21 bits, which neither the
 * clients' nor the networks' index reads (they use the low 32).
 */
export function keyBit(keyHash: number): number {
  return Math.floor(keyHash / 4294967296) & 63;
}
