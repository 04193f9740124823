import { SKETCH_WIDTH } from './sketch.js';

/**
 * The layout of a client's row in FeatureTable's three typed arrays, and the
 * pure updates of its inter-arrival statistics. Float32 holds every decayed
 * count: 24 bits of mantissa are plenty for counts that decay, and half the
 * bytes of Float64.
 */

// Float64 per client: times and hashes need all 53 bits.
export const LAST_AT = 0;
export const NETWORK = 1;
export const F64_WIDTH = 2;
// Float32 per client: decayed counts (TOTAL..BODY decay together), the gaps' statistics, the limit.
export const COVERAGE = 0;
export const TOTAL = 1;
export const REFUSED = 2;
export const AUTH_FAIL = 3;
export const NOT_FOUND = 4;
export const SERVER_ERROR = 5;
export const NON_GET = 6;
export const NO_AGENT = 7;
export const NO_ACCEPT = 8;
export const NO_LANGUAGE = 9;
export const BOT = 10;
export const BODY = 11;
export const GAP_WEIGHT = 12;
export const GAP_MEAN = 13;
export const GAP_SQUARES = 14;
export const LIMIT_RATE = 15;
export const F32_WIDTH = 16;
// Uint32 per client: raw counts for reports, gaps seen (up to MIN_GAPS), the path sketch.
export const REQUESTS = 0;
export const REFUSALS = 1;
export const GAPS = 2;
export const PATHS = 3;
export const U32_WIDTH = PATHS + SKETCH_WIDTH;

export const MIN_GAPS = 5;
// Older gaps' weight per new gap: about the last 8 gaps count (see features.ts on why per gap, not per half-life).
const GAP_MEMORY = 7 / 8;

/** Welford's update of the gaps' weighted mean and variance, older gaps' weight times GAP_MEMORY. */
export function addGap(f32: Float32Array, f: number, u32: Uint32Array, u: number, gap: number): void {
  const weight = (f32[f + GAP_WEIGHT] as number) * GAP_MEMORY + 1;
  const mean = f32[f + GAP_MEAN] as number;
  const delta = gap - mean;
  const next = mean + delta / weight;
  f32[f + GAP_WEIGHT] = weight;
  f32[f + GAP_MEAN] = next;
  f32[f + GAP_SQUARES] = (f32[f + GAP_SQUARES] as number) * GAP_MEMORY + delta * (gap - next);
  if ((u32[u + GAPS] as number) < MIN_GAPS) u32[u + GAPS] = (u32[u + GAPS] as number) + 1;
}

/** 1 - the gaps' coefficient of variation, clamped to [0, 1]; 0 before MIN_GAPS gaps. */
export function regularity(f32: Float32Array, f: number, gaps: number): number {
  const mean = f32[f + GAP_MEAN] as number;
  // All gaps 0 (simultaneous requests) have no coefficient of variation: not metronomic either.
  if (gaps < MIN_GAPS || !(mean > 0)) return 0;
  const sd = Math.sqrt(Math.max(0, (f32[f + GAP_SQUARES] as number) / (f32[f + GAP_WEIGHT] as number)));
  return Math.min(1, Math.max(0, 1 - sd / mean));
}
