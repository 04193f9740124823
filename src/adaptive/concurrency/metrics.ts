import { Counter, Gauge, type Registry } from 'prom-client';
import type { AdmissionBand } from './admission.js';
import { counterChildren, type CounterChild } from '../../observability/counter-children.js';

/**
 * Adaptive concurrency's series, on the gateway's registry:
 * `throttlegate_route_concurrency_limit{route}` (read at scrape time from the
 * routes the serving config has) and `throttlegate_shed_total{route,band}`.
 * Labels are bounded: a configured route, one of three bands.
 */
export class ConcurrencyMetrics {
  readonly #shed: Counter<'route' | 'band'>;
  readonly #shedChild: (route: string, band: string) => CounterChild;
  #limits: () => Iterable<readonly [string, number]> = () => [];

  constructor(registry: Registry) {
    const registers = [registry];
    const read = () => this.#limits();
    new Gauge({
      name: 'throttlegate_route_concurrency_limit',
      help: "A route's adaptive concurrency limit (adaptive_concurrency:): requests it lets in flight to the upstream at once.",
      labelNames: ['route'],
      registers,
      collect() {
        // Reset first: a route a reload removed has no limit any more.
        this.reset();
        for (const [route, limit] of read()) this.labels(route).set(limit);
      },
    });
    this.#shed = new Counter({
      name: 'throttlegate_shed_total',
      help: 'Requests refused 503 overloaded because the route was at its adaptive concurrency limit for their band, by route and band.',
      labelNames: ['route', 'band'],
      registers,
    });
    this.#shedChild = counterChildren(this.#shed);
  }

  /** Where the gauge reads each route's limit from: the routes of the config now serving. */
  readLimitsFrom(limits: () => Iterable<readonly [string, number]>): void {
    this.#limits = limits;
  }

  countShed(route: string, band: AdmissionBand): void {
    this.#shedChild(route, band).inc();
  }
}
