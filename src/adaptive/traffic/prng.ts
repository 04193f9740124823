/**
 * The generator's own seeded randomness: mulberry32 (a 32-bit state, fast,
 * good enough for simulated traffic) and a string hash that gives every
 * simulated client its own stream. A client's stream depends only on the
 * seed and its name, so adding clients of one class never changes the
 * requests of another.
 */
import { mulberry32 } from '../random.js';

/** FNV-1a over the text's UTF-16 units, then murmur3's finaliser so close names land far apart. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A deterministic number in [0, 1) for a text (used where a pure function needs a coin toss). */
export function hash01(text: string): number {
  return hash32(text) / 4294967296;
}

/** A seeded pseudo-random stream (mulberry32). */
export class Prng {
  readonly #next: () => number;

  /** Seeds the stream from any number and an optional name (the client's id). */
  constructor(seed: number, name = '') {
    this.#next = mulberry32(hash32(`${seed}/${name}`));
  }

  /** The next number in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** A real number in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [lo, hi], both ends included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor((hi - lo + 1) * this.next());
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    // The list may hold undefined itself (an absent header), hence the cast rather than a check.
    return items[Math.floor(items.length * this.next())] as T;
  }

  /** `hex` random lowercase hex digits (for opaque API keys). */
  hex(digits: number): string {
    let out = '';
    while (out.length < digits) out += Math.floor(this.next() * 0x10000).toString(16).padStart(4, '0');
    return out.slice(0, digits);
  }
}
