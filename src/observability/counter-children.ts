import type { Counter } from 'prom-client';

/** An increment-only child of a counter, for one set of label values. */
export interface CounterChild {
  inc(): void;
}

/**
 * A counter's children by label values, each resolved once: prom-client's
 * labels() validates, hashes and builds closures on every call, which a
 * counter bumped per request (a flood's 429s, adaptive actions, sheds)
 * would pay every time. Label values must be bounded (config routes and
 * the gateway's own tokens), since every child is kept.
 */
export function counterChildren<T extends string>(counter: Counter<T>): (a: string, b: string, c?: string) => CounterChild {
  const children = new Map<string, CounterChild>();
  return (a, b, c) => {
    const key = c === undefined ? `${a}\u0000${b}` : `${a}\u0000${b}\u0000${c}`;
    let child = children.get(key);
    if (child === undefined) {
      child = c === undefined ? counter.labels(a, b) : counter.labels(a, b, c);
      children.set(key, child);
    }
    return child;
  };
}
