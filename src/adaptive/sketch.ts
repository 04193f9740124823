/**
 * Distinct counts per minute in 5 numbers, with no set: a 64-bit
 * linear-counting bitmap (two 32-bit words) for the current minute and one
 * for the previous, kept in a Uint32Array row at `base` as
 * [minute, currentLow, currentHigh, previousLow, previousHigh].
 *
 * Linear counting (Whang et al., 1990): each item sets the bit its hash
 * picks; with z of the m = 64 bits still clear, about n = m ln(m / z) distinct
 * items were seen. Its standard error is about 10 % at 20 items and it stays
 * usable up to about 100 items; a full bitmap reads as SATURATED (m ln m, about
 * 266), which every normalisation here caps long before. The caller picks the
 * bit from a seeded hash, so no one outside can choose items that share bits.
 *
 * The previous minute is kept so a reading does not fall to 0 at a minute
 * boundary: it counts as much as the part of it still inside the last 60 s
 * (a sliding window in the style of Cloudflare's), and the reading is the
 * larger of that and the current minute's count, so a client that repeats the
 * same 5 paths every minute reads 5, not 10.
 */

export const SKETCH_WIDTH = 5;
export const WINDOW_MS = 60_000;
const BITS = 64;
export const SATURATED = BITS * Math.log(BITS);

/** Counts the item whose hash picked `bit` (0-63) at `at` (ms). Allocation-free. */
export function sketchAdd(row: Uint32Array, base: number, at: number, bit: number): void {
  const minute = Math.floor(at / WINDOW_MS);
  const held = row[base] as number;
  if (minute > held) {
    // A new minute: the current one becomes the previous one, or both are stale.
    const adjacent = minute === held + 1;
    row[base + 3] = adjacent ? (row[base + 1] as number) : 0;
    row[base + 4] = adjacent ? (row[base + 2] as number) : 0;
    row[base + 1] = 0;
    row[base + 2] = 0;
    row[base] = minute;
  } else if (minute < held) {
    // A late report (requests finish out of order): it belongs to the previous minute or to none kept.
    if (minute === held - 1) setBit(row, base + 3, bit);
    return;
  }
  setBit(row, base + 1, bit);
}

/** Distinct items seen over the last minute as of `now` (see the file's comment). */
export function sketchEstimate(row: Uint32Array, base: number, now: number): number {
  const minute = Math.floor(now / WINDOW_MS);
  const held = row[base] as number;
  const remaining = 1 - (now - minute * WINDOW_MS) / WINDOW_MS;
  if (minute === held) {
    const current = distinct(row[base + 1] as number, row[base + 2] as number);
    const previous = distinct(row[base + 3] as number, row[base + 4] as number);
    return Math.max(current, previous * remaining);
  }
  // The held current minute is now the previous one; anything older is gone.
  if (minute === held + 1) return distinct(row[base + 1] as number, row[base + 2] as number) * remaining;
  return 0;
}

/** Clears the sketch at `base` (a row taken over by a new client). */
export function sketchClear(row: Uint32Array, base: number): void {
  row.fill(0, base, base + SKETCH_WIDTH);
}

/** Linear counting's estimate for one 64-bit bitmap. */
export function distinct(low: number, high: number): number {
  const zeros = BITS - popcount(low) - popcount(high);
  return zeros === 0 ? SATURATED : BITS * Math.log(BITS / zeros);
}

function setBit(row: Uint32Array, wordsAt: number, bit: number): void {
  const word = wordsAt + (bit >>> 5);
  row[word] = ((row[word] as number) | (1 << (bit & 31))) >>> 0;
}

function popcount(word: number): number {
  let v = word - ((word >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
