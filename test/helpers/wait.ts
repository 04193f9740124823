import { setTimeout as sleep } from 'node:timers/promises';

type Probe<T> = () => T | undefined | false | Promise<T | undefined | false>;

/**
 * Polls `probe` until it returns a value other than undefined or false, for
 * at most `withinMs`. A probe that throws counts as "not yet" (a server still
 * starting refuses connections). On timeout the error names `what` and the
 * last thing the probe said, so a failure reads as the condition that never held.
 */
export async function waitFor<T>(what: string, probe: Probe<T>, withinMs = 2000, everyMs = 20): Promise<T> {
  const until = performance.now() + withinMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (performance.now() > until) throw new Error(`timed out after ${withinMs} ms waiting for ${what} (last: ${String(last)})`);
    await sleep(everyMs);
  }
}
