/** A duration as config files write it: `500ms`, `10s`, `1.5m`, `1h`, `1d`. */
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?(ms|s|m|h|d)$';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds in a duration the schema has accepted (DURATION_PATTERN), rounded to whole ms. */
export function parseDuration(text: string): number {
  const match = /^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)$/.exec(text);
  if (match === null) throw new TypeError(`not a duration: "${text}"`);
  return Math.round(Number(match[1]) * (UNIT_MS[match[2] as string] as number));
}
