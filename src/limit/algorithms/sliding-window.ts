import { EPSILON, type Algorithm } from './types.js';
import { whole } from './token-bucket.js';

/**
 * The sliding window counter (as Cloudflare and the Redis docs describe it):
 * counts of the current and the previous fixed window, the previous one
 * weighted by how much of it still lies inside the sliding window:
 *
 *     estimate = previous * (window - elapsed) / window + current
 *
 * State `[windowStart, current, previous]`. Error bound: the estimate
 * assumes the previous window's requests were spread evenly. Each fixed
 * window still admits at most `capacity`; a sliding interval of one window
 * admits at most capacity * (1 + elapsed / window) < 2 * capacity, and
 * exactly `capacity` when the previous window's traffic was even.
 */
export const slidingWindow: Algorithm = {
  step(state, now, spec, cost) {
    const w = spec.windowMs;
    const limit = spec.capacity;
    const start = Math.floor(now / w) * w;
    let current = 0;
    let previous = 0;
    if (state !== undefined && state[0] === start) {
      current = state[1] as number;
      previous = state[2] as number;
    } else if (state !== undefined && state[0] === start - w) previous = state[1] as number;
    const weight = (start + w - now) / w;
    const estimate = previous * weight + current;
    if (estimate + cost <= limit + EPSILON) {
      return { allowed: true, remaining: whole(limit - estimate - cost), resetMs: start + 2 * w - now, retryAfterMs: 0, next: [start, current + cost, previous] };
    }
    return {
      allowed: false,
      remaining: whole(limit - estimate),
      resetMs: current > 0 ? start + 2 * w - now : start + w - now,
      retryAfterMs: retryAfter(now, start, w, limit, cost, current, previous),
      next: [start, current, previous],
    };
  },
  idleAt(state, spec) {
    return (state[0] as number) + ((state[1] as number) > 0 ? 2 : 1) * spec.windowMs;
  },
};

/**
 * When the estimate will have fallen enough, with no other traffic: within
 * this window the previous count fades linearly; if the current count alone
 * is too many, in the next window the current count (then the previous) fades.
 */
function retryAfter(now: number, start: number, w: number, limit: number, cost: number, current: number, previous: number): number {
  const room = limit - cost - current;
  if (room >= 0 && previous > 0) return start + w - (room * w) / previous - now;
  const roomNext = limit - cost;
  // Only a cost above the limit (refused by config validation) leaves nothing to fade.
  if (current === 0 || roomNext < 0) return start + 2 * w - now;
  return start + 2 * w - (roomNext * w) / current - now;
}
