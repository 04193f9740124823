import type { Algorithm } from './types.js';

/**
 * At most `capacity` requests in flight per key. State `[inFlight]`. A slot
 * is taken when the request is admitted and given back (`release`) when its
 * response ends or its client goes away; time alone frees nothing, so
 * Retry-After is a hint of one second. Every request takes one slot whatever
 * its cost: cost is a rate, concurrency a count.
 */
export const concurrency: Algorithm = {
  step(state, _now, spec) {
    const inFlight = state === undefined ? 0 : (state[0] as number);
    if (inFlight + 1 <= spec.capacity) return { allowed: true, remaining: spec.capacity - inFlight - 1, resetMs: 0, retryAfterMs: 0, next: [inFlight + 1] };
    return { allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 1000, next: [inFlight] };
  },
  idleAt(state) {
    return (state[0] as number) <= 0 ? -Infinity : Infinity;
  },
};

/** The state after one slot is given back. */
export function release(state: readonly number[]): number[] {
  return [Math.max(0, (state[0] as number) - 1)];
}
