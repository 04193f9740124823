/**
 * Risk bands with hysteresis, pure. The rule:
 *
 * - A band's range is [previous band's `below`, its own `below`); the raw
 *   band of a score is the first whose `below` exceeds it.
 * - Worse: when the raw band is worse than the current one the client moves
 *   there at once, skipping bands if need be (normal -> blocked in one
 *   score). No margin and no delay on the way up: abuse is acted on at once.
 * - Better: the client leaves its band for a better band B only once its
 *   score has stayed below `B.below - margin` (strictly) at every score for
 *   `holdMs`. The hold starts at the first score below the current band's
 *   lower bound minus margin and is cancelled by any score that is not; the
 *   target is the worst band reached (with margin) during the hold, so the
 *   client lands where its score has been all along. Once there, a further
 *   step down needs a new hold, which starts on arrival if the score is
 *   already low enough.
 * - Between a boundary minus margin and the boundary is a dead zone where the
 *   client stays put, so a score hovering around a boundary moves the client
 *   up once and never back and forth.
 * - A client with no state starts in its raw band.
 *
 * nextBand returns the very `state` it was given when nothing changed, so a
 * caller can tell a change by identity and nothing is allocated per request.
 */

export type BandName = 'trusted' | 'normal' | 'suspicious' | 'blocked';

/** A band and its upper score bound (exclusive); Infinity for the last. */
export interface BandSpec {
  readonly name: BandName;
  readonly below: number;
}

/** Where a client is, and the better band it is on its way to (since when), if any. */
export interface BandState {
  readonly band: BandName;
  readonly pendingBand?: BandName;
  readonly pendingSince?: number;
}

export interface HysteresisOptions {
  /** Score points below a boundary needed to count towards leaving a band. */
  readonly margin: number;
  /** How long (ms) the score must stay there. */
  readonly holdMs: number;
}

export const DEFAULT_HYSTERESIS: HysteresisOptions = Object.freeze({ margin: 5, holdMs: 30_000 });

/** The default bands: trusted < 20 <= normal < 60 <= suspicious < 85 <= blocked. */
export const DEFAULT_BANDS: readonly BandSpec[] = Object.freeze([
  Object.freeze({ name: 'trusted', below: 20 }),
  Object.freeze({ name: 'normal', below: 60 }),
  Object.freeze({ name: 'suspicious', below: 85 }),
  Object.freeze({ name: 'blocked', below: Infinity }),
] as const);

/** Throws unless bands are non-empty, uniquely named, strictly increasing and end with below: Infinity; call it once on config, nextBand assumes it. */
export function checkBands(bands: readonly BandSpec[]): void {
  if (bands.length === 0) throw new Error('bands: at least one band is needed');
  const names = new Set<string>();
  bands.forEach((b, i) => {
    if (names.has(b.name)) throw new Error(`bands[${i}]: band "${b.name}" appears twice`);
    names.add(b.name);
    if (i > 0 && !(b.below > (bands[i - 1] as BandSpec).below)) {
      throw new Error(`bands[${i}]: "${b.name}" below ${b.below} must be greater than "${(bands[i - 1] as BandSpec).name}" below ${(bands[i - 1] as BandSpec).below}`);
    }
  });
  if ((bands[bands.length - 1] as BandSpec).below !== Infinity) throw new Error('bands: the last band must have no upper bound (below: Infinity)');
}

/** The index of the band a score falls in, without hysteresis (`margin` shifts every bound down). */
export function bandIndexOf(bands: readonly BandSpec[], score: number, margin = 0): number {
  for (let i = 0; i < bands.length - 1; i++) if (score < (bands[i] as BandSpec).below - margin) return i;
  return bands.length - 1;
}

function indexOfName(bands: readonly BandSpec[], name: BandName): number {
  const i = bands.findIndex((b) => b.name === name);
  // A state from an older config naming a band that is gone counts as the worst band; the next hold corrects it.
  return i < 0 ? bands.length - 1 : i;
}

/** The band a client is in after a new `score` at `now` (see the module comment for the rule). */
export function nextBand(
  bands: readonly BandSpec[],
  state: BandState | undefined,
  score: number,
  now: number,
  options: HysteresisOptions = DEFAULT_HYSTERESIS,
): BandState {
  const raw = bandIndexOf(bands, score);
  if (!state) return { band: (bands[raw] as BandSpec).name };
  const current = indexOfName(bands, state.band);
  if (raw > current) return { band: (bands[raw] as BandSpec).name };
  const reach = bandIndexOf(bands, score, options.margin);
  if (reach >= current) {
    // In the band or its dead zone: any hold towards a better band is broken.
    return state.pendingBand === undefined ? state : { band: state.band };
  }
  const pending = state.pendingBand === undefined || state.pendingSince === undefined ? -1 : indexOfName(bands, state.pendingBand);
  // No hold yet (or one towards a band that is no better, from a changed config): one starts now.
  const fresh = pending < 0 || pending >= current;
  const since = fresh ? now : (state.pendingSince as number);
  // The target is the worst band the score has reached since the hold began.
  const target = fresh ? reach : Math.max(reach, pending);
  if (now - since >= options.holdMs) {
    // Arriving with the score lower still starts the hold for the next step at once.
    if (reach < target) return { band: (bands[target] as BandSpec).name, pendingBand: (bands[reach] as BandSpec).name, pendingSince: now };
    return { band: (bands[target] as BandSpec).name };
  }
  if (!fresh && target === pending) return state;
  return { band: state.band, pendingBand: (bands[target] as BandSpec).name, pendingSince: since };
}
