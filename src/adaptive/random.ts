/**
 * A small seeded PRNG for everything in adaptive protection that must be
 * reproducible from the repository: training's shuffles, the traffic
 * generator's clients. Math.random() cannot be seeded, so a run could never
 * be replayed.
 */

/**
 * mulberry32: a 32-bit state generator, fast and good enough for shuffles and
 * simulation (not for anything secret). The same seed always gives the same
 * sequence of floats in [0, 1).
 */
export function mulberry32(seed: number): () => number {
  // Coerce to an unsigned 32-bit state so fractional or huge seeds are still deterministic.
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `items` in place (Fisher-Yates) with the given generator; returns the same array. */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const held = items[i] as T;
    items[i] = items[j] as T;
    items[j] = held;
  }
  return items;
}
