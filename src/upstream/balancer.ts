/**
 * Choosing the target for one request among those available now.
 *
 * Callers pass the available subset on every pick (targets that are ejected or
 * whose circuit is open are simply left out). The only state a balancer keeps,
 * the smooth round-robin `current` of each target, is held per target object
 * in a WeakMap, so a target left out takes no part in that pick and keeps its
 * standing for when it returns, and a target dropped on reload is forgotten.
 *
 * Contract: weights are finite and > 0 (the config guarantees it).
 */
export type BalanceKind = 'round_robin' | 'least_connections' | 'random_two';

/** What a balancer needs to know about a target. */
export interface Balanced {
  readonly weight: number;
  /** Requests in flight now. */
  readonly inFlight: number;
}

export interface Balancer<T extends Balanced> {
  /** Picks one of `candidates` (the available targets); undefined only when there are none. */
  pick(candidates: readonly T[]): T | undefined;
}

/** `random` returns a number in [0, 1); only `random_two` uses it. */
export function createBalancer<T extends Balanced>(kind: BalanceKind, random: () => number = Math.random): Balancer<T> {
  switch (kind) {
    case 'round_robin': {
      const current = new WeakMap<T, number>();
      return { pick: (candidates) => smoothPick(candidates, current) };
    }
    case 'least_connections': {
      // As nginx's least_conn: among the equally least loaded, weighted round
      // robin, so idle targets take turns instead of the first taking all.
      const current = new WeakMap<T, number>();
      return { pick: (candidates) => smoothPick(leastLoaded(candidates), current) };
    }
    case 'random_two':
      return { pick: (candidates) => pickTwo(candidates, random) };
  }
}

/**
 * nginx's smooth weighted round robin: every candidate gains its weight, the
 * highest wins (first on ties) and pays back the total. Over any run of
 * picks from one set the split is exact, and the heavy target's picks are
 * spread out (3:1 gives A A B A, 5:1:1 gives A A B A C A A).
 */
function smoothPick<T extends Balanced>(candidates: readonly T[], current: WeakMap<T, number>): T | undefined {
  let best: T | undefined;
  let bestCurrent = -Infinity;
  let total = 0;
  for (const candidate of candidates) {
    const value = (current.get(candidate) ?? 0) + candidate.weight;
    current.set(candidate, value);
    total += candidate.weight;
    if (value > bestCurrent) {
      best = candidate;
      bestCurrent = value;
    }
  }
  if (best !== undefined) current.set(best, bestCurrent - total);
  return best;
}

/** The candidates with the lowest inFlight / weight, in their given order. */
function leastLoaded<T extends Balanced>(candidates: readonly T[]): T[] {
  let least: T[] = [];
  for (const candidate of candidates) {
    const first = least[0];
    if (first === undefined || lighter(candidate, first)) least = [candidate];
    else if (!lighter(first, candidate)) least.push(candidate);
  }
  return least;
}

/** Power of two choices: two distinct candidates drawn uniformly, the lighter wins, the first drawn on a tie. */
function pickTwo<T extends Balanced>(candidates: readonly T[], random: () => number): T | undefined {
  const n = candidates.length;
  if (n < 2) return candidates[0];
  const i = draw(random, n);
  // Drawing from the n - 1 others and skipping over i keeps the pair distinct and uniform.
  let j = draw(random, n - 1);
  if (j >= i) j++;
  const first = candidates[i]!;
  const second = candidates[j]!;
  return lighter(second, first) ? second : first;
}

const draw = (random: () => number, n: number): number => Math.min(n - 1, Math.floor(random() * n));

/** a.inFlight / a.weight < b.inFlight / b.weight, cross-multiplied so equal loads compare equal exactly. */
const lighter = (a: Balanced, b: Balanced): boolean => a.inFlight * b.weight < b.inFlight * a.weight;
