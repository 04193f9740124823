import { EPSILON, type Algorithm } from './types.js';

/**
 * The classic token bucket: state `[tokens, at]`, the tokens held at instant
 * `at`. Tokens refill continuously at `rate` up to `capacity` (burst); a new
 * client starts full. A request takes `cost` tokens.
 */
export const tokenBucket: Algorithm = {
  step(state, now, spec, cost) {
    const { rate, capacity } = spec;
    const tokens = state === undefined ? capacity : Math.min(capacity, (state[0] as number) + (Math.max(0, now - (state[1] as number)) * rate) / 1000);
    if (tokens + EPSILON >= cost) {
      const left = tokens - cost;
      return { allowed: true, remaining: whole(left), resetMs: ((capacity - left) * 1000) / rate, retryAfterMs: 0, next: [left, now] };
    }
    return {
      allowed: false,
      remaining: whole(tokens),
      resetMs: ((capacity - tokens) * 1000) / rate,
      retryAfterMs: ((cost - tokens) * 1000) / rate,
      next: state ?? [capacity, now],
    };
  },
  idleAt(state, spec) {
    return (state[1] as number) + ((spec.capacity - (state[0] as number)) * 1000) / spec.rate;
  },
  capHeld(state, now, spec, held) {
    const tokens = state === undefined ? spec.capacity : (state[0] as number) + (Math.max(0, now - (state[1] as number)) * spec.rate) / 1000;
    return [Math.min(spec.capacity - held, tokens), Math.max(now, state === undefined ? now : (state[1] as number))];
  },
  credit(state, _spec, units) {
    return [(state[0] as number) + units, state[1] as number];
  },
};

export const whole = (units: number): number => Math.max(0, Math.floor(units + EPSILON));
