import type { LimitSet } from '../config/types.js';
import type { LimitSpec } from '../limit/algorithms/types.js';

const cache = new WeakMap<LimitSet, Map<number, LimitSet>>();

/**
 * The set with the client's own limits multiplied by a band's factor: rate
 * and burst of the buckets, a window's limit (and so its rate), the slots of
 * a concurrency limit; never below one request. Route and global limits are
 * shared by every client, so no one client's score moves them. Ids stay: the
 * client keeps its state, and the headers name the limit it is held to, with
 * the numbers now applied. Built once per (set, factor).
 */
export function scaledSet(set: LimitSet, factor: number): LimitSet {
  if (factor === 1) return set;
  let byFactor = cache.get(set);
  if (byFactor === undefined) cache.set(set, (byFactor = new Map()));
  let scaled = byFactor.get(factor);
  if (scaled === undefined) {
    scaled = { group: `${set.group}~x${factor}`, plan: set.plan, limits: set.limits.map((l) => (l.scope === 'client' ? scaleLimit(l, factor) : l)) };
    byFactor.set(factor, scaled);
  }
  return scaled;
}

function scaleLimit(spec: LimitSpec, factor: number): LimitSpec {
  const capacity = Math.max(1, Math.round(spec.capacity * factor));
  switch (spec.algorithm) {
    case 'token_bucket':
    case 'gcra':
      return { ...spec, rate: spec.rate * factor, capacity, windowMs: (capacity * 1000) / (spec.rate * factor) };
    case 'fixed_window':
    case 'sliding_window':
      return { ...spec, capacity, rate: (capacity * 1000) / spec.windowMs };
    case 'concurrency':
      return { ...spec, capacity };
  }
}

const mirrors = new WeakMap<LimitSet, LimitSet>();

/** What a shadow-mode mirror key is counted under: apart from the client's real state, never a key a client can present. */
export const MIRROR_PREFIX = 'shadow~';

/**
 * Shadow mode's mirror of a client's band-scaled limits: only the client's
 * own (the ones a band moves), counted under `shadow~<key>` so they advance
 * exactly as enforce would have advanced them. Route and global limits are
 * left out: they are already counted once, by the real check.
 */
export function mirrorSet(scaled: LimitSet): LimitSet {
  let mirror = mirrors.get(scaled);
  if (mirror === undefined) {
    mirror = { group: `${scaled.group}~shadow`, plan: scaled.plan, limits: scaled.limits.filter((l) => l.scope === 'client') };
    mirrors.set(scaled, mirror);
  }
  return mirror;
}
