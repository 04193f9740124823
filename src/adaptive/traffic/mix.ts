/**
 * A mix of simulated clients and the one function that runs it: every
 * client's timeline, merged in time order. Pure: the same mix, seed and
 * duration give the same events, on any machine.
 */
import { CLASS_NAMES, type ClassName, type TrafficEvent } from './classes.js';
import { batch, browser, mobile } from './good.js';
import { enumerator, scanner, scraper, stuffer } from './bad.js';
import { MAX_CLIENTS_PER_CLASS, Track } from './track.js';

/** How many clients of each class run (a stuffer is one client presenting hundreds of keys). */
export interface MixSpec {
  readonly classes: Readonly<Record<ClassName, number>>;
}

/**
 * The default mix: 64 clients, 7 of them bad. The 3 stuffers each present a
 * new key every 1-3 requests (about 300 keys a minute each), so by keys the
 * bad side looks far larger than by clients.
 */
export const DEFAULT_MIX: MixSpec = Object.freeze({
  classes: Object.freeze({ browser: 40, mobile: 15, batch: 2, scraper: 4, stuffer: 3, scanner: 3, enumerator: 3 }),
});

const BEHAVIOURS: Readonly<Record<ClassName, (track: Track) => void>> = {
  browser,
  mobile,
  batch,
  scraper,
  stuffer,
  scanner,
  enumerator,
};

/** All events of the mix over durationMs, sorted by `at` (ties by client), deterministic for a seed. */
export function generate(mix: MixSpec, seed: number, durationMs: number): TrafficEvent[] {
  if (!Number.isFinite(durationMs) || durationMs < 0) throw new RangeError(`durationMs must be a finite number >= 0, got ${durationMs}`);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const events: TrafficEvent[] = [];
  for (const cls of CLASS_NAMES) {
    const count = mix.classes[cls];
    if (!Number.isInteger(count) || count < 0 || count > MAX_CLIENTS_PER_CLASS) {
      throw new RangeError(`mix.classes.${cls} must be an integer 0..${MAX_CLIENTS_PER_CLASS}, got ${count}`);
    }
    for (let index = 1; index <= count; index += 1) {
      const track = new Track(cls, index, seed, durationMs);
      BEHAVIOURS[cls](track);
      events.push(...track.events);
    }
  }
  // Array.prototype.sort is stable, so one client's same-ms requests keep their order.
  return events.sort((a, b) => a.at - b.at || (a.client < b.client ? -1 : a.client > b.client ? 1 : 0));
}

/** The number of events per class (what a run's report starts from). */
export function countByClass(events: readonly TrafficEvent[]): Record<ClassName, number> {
  const counts = Object.fromEntries(CLASS_NAMES.map((c) => [c, 0])) as Record<ClassName, number>;
  for (const e of events) counts[e.cls] += 1;
  return counts;
}
