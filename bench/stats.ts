/**
 * The honesty rules every ratio in the report follows: medians with their
 * min–max spread over rounds, and a claim is PASS or FAIL only when the whole
 * spread lands on one side of the threshold, else NOISE.
 */

export type Verdict = 'PASS' | 'FAIL' | 'NOISE';

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(xs: readonly number[]): Spread {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number };
}

export const f0 = (x: number) => x.toFixed(0);
export const f1 = (x: number) => x.toFixed(1);
export const f2 = (x: number) => x.toFixed(2);
export const show = (s: Spread, f: (x: number) => string) => `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;

/** The ratio X/ref over the spreads: the worst and best case the rounds allow. */
function ratioBounds(x: Spread, ref: Spread): { lo: number; hi: number; median: number } {
  return { lo: x.min / ref.max, hi: x.max / ref.min, median: x.median / ref.median };
}

/** Median ratio, flagged when the two min–max spreads overlap. */
export function ratioCell(x: Spread, ref: Spread): string {
  const overlap = x.min <= ref.max && ref.min <= x.max;
  return `${f2(ratioBounds(x, ref).median)}${overlap ? ' (within noise)' : ''}`;
}

/** At least `threshold` x ref: PASS if even the worst case holds, FAIL if even the best case misses. */
export function ratioVerdict(x: Spread, ref: Spread, threshold: number): { verdict: Verdict; detail: string } {
  const r = ratioBounds(x, ref);
  const detail = `median ratio ${f2(r.median)}, spread allows ${f2(r.lo)}–${f2(r.hi)}`;
  // One round has no spread: nothing can be said beyond noise.
  if (x.min === x.max && ref.min === ref.max) return { verdict: 'NOISE', detail: `${detail}; single round, no spread estimate` };
  const verdict: Verdict = r.lo >= threshold ? 'PASS' : r.hi < threshold ? 'FAIL' : 'NOISE';
  return { verdict, detail };
}

/** X/ref req/s round by round: both ran back to back in the same round, so drift between rounds cancels. */
export function pairedRatios(x: readonly { reqPerSec: number }[], ref: readonly { reqPerSec: number }[]): string {
  return x.map((m, i) => f2(m.reqPerSec / (ref[i]?.reqPerSec ?? NaN))).join(', ');
}

/** Several claims together: FAIL if any fails, PASS only if all pass, else NOISE. */
export function allOf(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.includes('FAIL')) return 'FAIL';
  return verdicts.every((v) => v === 'PASS') ? 'PASS' : 'NOISE';
}
