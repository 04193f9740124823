/** One target's rounds reduced to the figures the table and the checks quote. */
import type { Measurement } from './measure.js';
import { spread, type Spread } from './stats.js';

export const rps = (ms: readonly Measurement[]): Spread => spread(ms.map((m) => m.reqPerSec));
export const growth = (ms: readonly Measurement[]): Spread => spread(ms.map((m) => m.rssAfterMb - m.rssBeforeMb));
export const busy = (ms: readonly Measurement[], cpu: number): number => spread(ms.map((m) => m.cpuBusy[cpu] ?? 0)).median;
export const own = (ms: readonly Measurement[]): number => spread(ms.map((m) => m.targetCpu)).median;
/**
 * The target's own CPU time per request served, in µs. Unlike req/s it does not
 * move with how fast the loader's core happened to be, so it is the steadier
 * figure for "what does the gateway cost per request" on this shared machine.
 */
export const cpuPerRequest = (ms: readonly Measurement[]): Spread =>
  spread(ms.map((m) => (m.targetCpu / 100 / m.reqPerSec) * 1e6));

/** Median of an optional per-round figure; undefined when no round has it. */
export function medianOf(ms: readonly Measurement[], pick: (m: Measurement) => number | undefined): number | undefined {
  const xs = ms.map(pick).filter((x): x is number => x !== undefined);
  return xs.length ? spread(xs).median : undefined;
}

/** Which side saturated its CPU: 'loader' means the req/s is a floor for the target, not its limit. */
export function bottleneck(ms: readonly Measurement[]): string {
  if (busy(ms, 0) >= 90) return 'target-bound';
  return busy(ms, 1) >= 90 ? 'LOADER-BOUND' : 'neither saturated';
}
