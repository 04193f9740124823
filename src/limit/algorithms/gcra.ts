import { EPSILON_MS, type Algorithm } from './types.js';
import { whole } from './token-bucket.js';

/**
 * GCRA (generic cell rate algorithm, ATM's leaky bucket as a meter): the same
 * limit as a token bucket of `capacity` tokens at `rate`, held in ONE number,
 * the theoretical arrival time `tat`: the instant the bucket would be full.
 * Each request moves `tat` on by `cost` emission intervals (1000 / rate ms);
 * it is allowed while `tat` stays within capacity intervals of now. One
 * number per key is one Redis string and one comparison, and Retry-After is
 * exact: the instant `tat` comes back within the tolerance.
 */
export const gcra: Algorithm = {
  step(state, now, spec, cost) {
    const interval = 1000 / spec.rate;
    const tolerance = spec.capacity * interval;
    const tat = state === undefined ? now : Math.max(state[0] as number, now);
    const nextTat = tat + cost * interval;
    if (nextTat - now <= tolerance + EPSILON_MS) {
      return { allowed: true, remaining: whole((tolerance - (nextTat - now)) / interval), resetMs: nextTat - now, retryAfterMs: 0, next: [nextTat] };
    }
    return {
      allowed: false,
      remaining: whole((tolerance - (tat - now)) / interval),
      resetMs: tat - now,
      retryAfterMs: nextTat - now - tolerance,
      next: state ?? [now],
    };
  },
  idleAt(state) {
    return state[0] as number;
  },
  // tat is when the bucket would be full: `held` units out means it is never fuller than held intervals before that.
  capHeld(state, now, spec, held) {
    return [Math.max(state === undefined ? now : (state[0] as number), now + (held * 1000) / spec.rate)];
  },
  credit(state, spec, units) {
    return [(state[0] as number) - (units * 1000) / spec.rate];
  },
};
