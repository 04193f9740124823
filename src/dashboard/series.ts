import type { RequestSample } from '../observability/metrics.js';

/** One second of traffic: counts in that second, latency quantiles of its requests (ms; null: none). */
export interface SecondPoint {
  readonly t: number;
  readonly requests: number;
  readonly limited: number;
  readonly blocked: number;
  readonly errors: number;
  readonly p50: number | null;
  readonly p99: number | null;
}

export interface Totals {
  readonly requests: number;
  readonly allowed: number;
  readonly limited: number;
  readonly blocked: number;
  readonly errors: number;
}

/** A route's last seconds: requests and refusals (429 and 403) per second, newest last. */
export interface RouteWindow {
  readonly requests: number[];
  readonly refusals: number[];
}

const HISTORY_S = 15 * 60;
const ROUTE_WINDOW_S = 60;

/**
 * The overview's time series, built from the gateway's own counters sampled
 * once a second (GatewayMetrics.sample()): the request path does nothing
 * more for it. Each point is the difference between two samples; latency
 * quantiles come from the histogram buckets' differences, interpolated
 * within a bucket as Prometheus's histogram_quantile does. Pure apart from
 * what it is fed: tests drive it with samples.
 */
export class TrafficSeries {
  readonly #points: SecondPoint[] = [];
  readonly #routes = new Map<string, RouteWindow>();
  #previous: Flat | undefined;
  #totals: Totals = { requests: 0, allowed: 0, limited: 0, blocked: 0, errors: 0 };

  /** Adds the second ending at `nowMs` from a new sample. */
  add(nowMs: number, sample: RequestSample): void {
    const flat = flatten(sample);
    const previous = this.#previous ?? flat;
    this.#previous = flat;
    this.#totals = totalsOf(flat);
    // A worker that restarted starts its counters again: its part of the sum falls, never below nothing.
    const point: SecondPoint = {
      t: Math.round(nowMs / 1000),
      requests: Math.max(0, flat.requests - previous.requests),
      limited: Math.max(0, flat.limited - previous.limited),
      blocked: Math.max(0, flat.blocked - previous.blocked),
      errors: Math.max(0, flat.errors - previous.errors),
      ...quantiles(diff(flat.buckets, previous.buckets), sample.bounds),
    };
    this.#points.push(point);
    if (this.#points.length > HISTORY_S) this.#points.shift();
    for (const [route, now] of flat.byRoute) {
      const before = previous.byRoute.get(route) ?? { requests: 0, refusals: 0 };
      let window = this.#routes.get(route);
      if (window === undefined) this.#routes.set(route, (window = { requests: [], refusals: [] }));
      window.requests.push(Math.max(0, now.requests - before.requests));
      window.refusals.push(Math.max(0, now.refusals - before.refusals));
      if (window.requests.length > ROUTE_WINDOW_S) {
        window.requests.shift();
        window.refusals.shift();
      }
    }
  }

  get points(): readonly SecondPoint[] {
    return this.#points;
  }

  /** Since the gateway started (the counters' values). */
  get totals(): Totals {
    return this.#totals;
  }

  /** Requests per second over the last `seconds`, and the share refused over the route's whole window (60 s). */
  route(route: string, seconds = 10): { rps: number; refusalShare: number } {
    const window = this.#routes.get(route);
    if (window === undefined || window.requests.length === 0) return { rps: 0, refusalShare: 0 };
    const recent = window.requests.slice(-seconds);
    const requests = sum(window.requests);
    return { rps: sum(recent) / recent.length, refusalShare: requests === 0 ? 0 : sum(window.refusals) / requests };
  }
}

interface Flat {
  readonly requests: number;
  readonly limited: number;
  readonly blocked: number;
  readonly errors: number;
  readonly buckets: Float64Array;
  readonly byRoute: Map<string, { requests: number; refusals: number }>;
}

function flatten(sample: RequestSample): Flat {
  let requests = 0;
  let blocked = 0;
  let errors = 0;
  const buckets = new Float64Array(sample.bounds.length + 1);
  const byRoute = new Map<string, { requests: number; refusals: number }>();
  for (const r of sample.routes) {
    requests += r.count;
    let refusals = 0;
    for (const [status, n] of r.byStatus) {
      if (status === 403) blocked += n;
      if (status >= 500) errors += n;
      if (status === 403 || status === 429) refusals += n;
    }
    r.buckets.forEach((n, i) => (buckets[i] = (buckets[i] as number) + n));
    byRoute.set(r.route, { requests: r.count, refusals });
  }
  // 429s from a limit (rate_limited_total): what /metrics calls limited, whichever status counter they fell in.
  return { requests, limited: sample.rateLimited, blocked, errors, buckets, byRoute };
}

function totalsOf(f: Flat): Totals {
  return { requests: f.requests, limited: f.limited, blocked: f.blocked, errors: f.errors, allowed: Math.max(0, f.requests - f.limited - f.blocked - f.errors) };
}

function diff(now: Float64Array, before: Float64Array): Float64Array {
  return now.map((n, i) => Math.max(0, n - (before[i] ?? 0)));
}

/** p50 and p99 in ms of the observations in `buckets` (per bucket, not cumulative), interpolated within a bucket. */
export function quantiles(buckets: Float64Array, bounds: readonly number[]): { p50: number | null; p99: number | null } {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total <= 0) return { p50: null, p99: null };
  return { p50: quantile(0.5, buckets, bounds, total), p99: quantile(0.99, buckets, bounds, total) };
}

function quantile(q: number, buckets: Float64Array, bounds: readonly number[], total: number): number {
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i] as number;
    if (seen + n >= rank && n > 0) {
      // Above the last bound there is no upper edge: the last bound is the best answer (as histogram_quantile).
      if (i >= bounds.length) return (bounds[bounds.length - 1] as number) * 1000;
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return (lower + (upper - lower) * ((rank - seen) / n)) * 1000;
    }
    seen += n;
  }
  return (bounds[bounds.length - 1] as number) * 1000;
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
