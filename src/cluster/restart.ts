/** The first restart of a crashed worker waits this long; each crash in a row doubles it, up to MAX. */
const FIRST_MS = 100;
const MAX_MS = 10_000;

/**
 * How long the primary waits before replacing a worker that exited, after
 * `crashes` exits in a row (0: the first, or one that had run a while):
 * a worker that dies at start (a port taken, a bad environment) is retried
 * ever more slowly instead of spinning a core.
 */
export function restartDelayMs(crashes: number): number {
  if (crashes <= 0) return 0;
  return Math.min(MAX_MS, FIRST_MS * 2 ** (crashes - 1));
}
