import type { Algorithm } from './types.js';

/**
 * `capacity` requests per window, windows aligned to the clock's epoch (a
 * `1d` window is a UTC day on Redis TIME and on the memory store's clock).
 * State `[windowStart, count]`. Simple and cheap, at the known price: a
 * client may spend a full window's budget at the end of one window and again
 * at the start of the next.
 */
export const fixedWindow: Algorithm = {
  step(state, now, spec, cost) {
    const w = spec.windowMs;
    const start = Math.floor(now / w) * w;
    const count = state !== undefined && state[0] === start ? (state[1] as number) : 0;
    const resetMs = start + w - now;
    if (count + cost <= spec.capacity) return { allowed: true, remaining: spec.capacity - count - cost, resetMs, retryAfterMs: 0, next: [start, count + cost] };
    return { allowed: false, remaining: Math.max(0, spec.capacity - count), resetMs, retryAfterMs: resetMs, next: [start, count] };
  },
  idleAt(state, spec) {
    return (state[0] as number) + spec.windowMs;
  },
};
