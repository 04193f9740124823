import type { Registry } from 'prom-client';

/**
 * The per-request metrics (`throttlegate_requests_total` and
 * `throttlegate_request_duration_seconds`) as plain numbers, turned into
 * Prometheus series only when /metrics is scraped.
 *
 * prom-client's own counter and histogram validate and hash their label set on
 * every call, about 3 µs per request here; this costs two Map lookups and a
 * few additions. The families are registered on the same prom-client
 * registry, which renders them with everything else: each one is an object
 * with `get()` returning prom-client's documented MetricObjectWithValues shape.
 */
export class RequestSeries {
  readonly #routes = new Map<string, RouteSeries>();
  readonly #bounds: readonly number[];

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds;
  }

  record(route: string, method: string, status: number, seconds: number): void {
    const r = this.#series(route);
    let byStatus = r.byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      r.byMethod.set(method, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    (r.buckets[i] as number)++;
    r.sum += seconds;
    r.count++;
  }

  /** Registers both families on `registry` under the given names. */
  register(registry: Registry, names: { requests: FamilyName; duration: FamilyName }): void {
    const counter = family(names.requests, 'counter', () => {
      const values: SeriesValue[] = [];
      for (const [route, r] of this.#routes)
        for (const [method, byStatus] of r.byMethod)
          for (const [status, value] of byStatus) values.push({ labels: { route, method, status }, value });
      return values;
    });
    const histogram = family(names.duration, 'histogram', () => {
      const values: SeriesValue[] = [];
      for (const [route, r] of this.#routes) {
        let cumulative = 0;
        this.#bounds.forEach((le, i) => {
          cumulative += r.buckets[i] as number;
          values.push({ labels: { le, route }, value: cumulative, metricName: `${names.duration.name}_bucket` });
        });
        values.push({ labels: { le: '+Inf', route }, value: r.count, metricName: `${names.duration.name}_bucket` });
        values.push({ labels: { route }, value: r.sum, metricName: `${names.duration.name}_sum` });
        values.push({ labels: { route }, value: r.count, metricName: `${names.duration.name}_count` });
      }
      return values;
    });
    registry.registerMetric(counter as never);
    registry.registerMetric(histogram as never);
  }

  /** Cumulative counts per route, for readers that sample them (the dashboard, once a second): no allocation per request. */
  routeTotals(): RouteTotals[] {
    const out: RouteTotals[] = [];
    for (const [route, r] of this.#routes) {
      const byStatus = new Map<number, number>();
      for (const statuses of r.byMethod.values()) for (const [status, n] of statuses) byStatus.set(status, (byStatus.get(status) ?? 0) + n);
      out.push({ route, count: r.count, byStatus, buckets: Float64Array.from(r.buckets) });
    }
    return out;
  }

  /** The histogram's upper bounds in seconds (the last bucket is above them all). */
  get bounds(): readonly number[] {
    return this.#bounds;
  }

  /** Declares a route at zero, so dashboards see its histogram before the first request. */
  declareRoute(route: string): void {
    this.#series(route);
  }

  #series(route: string): RouteSeries {
    let r = this.#routes.get(route);
    if (r === undefined) {
      r = { byMethod: new Map(), buckets: new Float64Array(this.#bounds.length + 1), sum: 0, count: 0 };
      this.#routes.set(route, r);
    }
    return r;
  }
}

/** One route's cumulative counts: requests, by status, and per latency bucket (not cumulative across buckets). */
export interface RouteTotals {
  readonly route: string;
  readonly count: number;
  readonly byStatus: ReadonlyMap<number, number>;
  readonly buckets: Float64Array;
}

interface RouteSeries {
  readonly byMethod: Map<string, Map<number, number>>;
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

export interface FamilyName {
  readonly name: string;
  readonly help: string;
}

interface SeriesValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

function family(n: FamilyName, type: 'counter' | 'histogram', values: () => SeriesValue[]) {
  return {
    name: n.name,
    help: n.help,
    type,
    aggregator: 'sum',
    get: async () => ({ name: n.name, help: n.help, type, aggregator: 'sum', values: values() }),
    // Registry.resetMetrics() calls this; the gateway never does.
    reset: () => {},
  };
}
