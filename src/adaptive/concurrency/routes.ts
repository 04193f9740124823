import type { Registry } from 'prom-client';
import { RouteConcurrency } from './admission.js';
import type { AdaptiveConcurrencyConfig } from './config.js';
import { ConcurrencyMetrics } from './metrics.js';

/** A route's limiter as a config serves it: the `route` metric label and the limiter. */
export interface ServedLimiter {
  readonly key: string;
  readonly route: string;
  readonly limiter: RouteConcurrency;
}

/**
 * A gateway's adaptive concurrency limiters, kept across reloads: a route a
 * reloaded config keeps, with the same parameters, keeps its limiter (its
 * limit, its minRTT, and the count of requests in flight, which requests
 * still served by the old config give back). One per metrics registry, so
 * per gateway; created by its first config with adaptive_concurrency.
 */
export class ConcurrencyRoutes {
  readonly metrics: ConcurrencyMetrics;
  #serving = new Map<string, ServedLimiter>();

  constructor(registry: Registry) {
    this.metrics = new ConcurrencyMetrics(registry);
    this.metrics.readLimitsFrom(() => [...this.#serving.values()].map((s) => [s.route, s.limiter.limit] as const));
  }

  /** The limiter for a route of a config being built: the serving one when the route and its parameters are unchanged, else a new one. */
  prepare(key: string, options: AdaptiveConcurrencyConfig, now: number): RouteConcurrency {
    const served = this.#serving.get(key)?.limiter;
    return served !== undefined && sameOptions(served.options, options) ? served : new RouteConcurrency(options, now);
  }

  /** The config just built serves these (called once it is ready; a config that failed to build publishes nothing). */
  publish(limiters: readonly ServedLimiter[]): void {
    this.#serving = new Map(limiters.map((s) => [s.key, s]));
  }
}

const byRegistry = new WeakMap<Registry, ConcurrencyRoutes>();

/**
 * The gateway's limiters; made (registering the metrics) only when `create`
 * (a config has a route with adaptive_concurrency), so a gateway that never
 * uses it serves none of its series. A later config without any still gets
 * the holder, to publish that it serves none.
 */
export function concurrencyRoutesFor(registry: Registry, create: boolean): ConcurrencyRoutes | undefined {
  let routes = byRegistry.get(registry);
  if (routes === undefined && create) byRegistry.set(registry, (routes = new ConcurrencyRoutes(registry)));
  return routes;
}

function sameOptions(a: AdaptiveConcurrencyConfig, b: AdaptiveConcurrencyConfig): boolean {
  return (
    a.minLimit === b.minLimit &&
    a.maxLimit === b.maxLimit &&
    a.initialLimit === b.initialLimit &&
    a.sampleWindowMs === b.sampleWindowMs &&
    a.minRttIntervalMs === b.minRttIntervalMs &&
    a.buffer === b.buffer
  );
}
