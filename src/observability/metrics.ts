import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestSeries } from './request-series.js';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** `route` label for requests that matched no route. */
export const NO_ROUTE = 'none';

/**
 * The gateway's Prometheus metrics, on a registry of its own (two gateways in
 * one process, as in tests, do not share counters). Label values are bounded:
 * `route` is a configured path or `none`, `method` one of seven or `other`.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #requests = new RequestSeries([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  readonly #rateLimited: Counter<'route'>;
  readonly #upstreamErrors: Counter<'route' | 'reason'>;
  readonly #storeErrors: Counter<'reason'>;
  readonly #storeUp: Gauge;
  readonly #localDenials: Counter;

  constructor(activeClients: () => number) {
    const registers = [this.registry];
    this.#requests.register(this.registry, {
      requests: { name: 'throttlegate_requests_total', help: 'Requests answered, by route, method and status.' },
      duration: { name: 'throttlegate_request_duration_seconds', help: 'Time from request arrival to response end.' },
    });
    this.#rateLimited = new Counter({
      name: 'throttlegate_rate_limited_total',
      help: 'Requests refused with 429 by the rate limiter.',
      labelNames: ['route'],
      registers,
    });
    this.#upstreamErrors = new Counter({
      name: 'throttlegate_upstream_errors_total',
      help: 'Upstream failures, by route and reason (refused, reset, timeout, tls, dns, other).',
      labelNames: ['route', 'reason'],
      registers,
    });
    this.#storeErrors = new Counter({
      name: 'throttlegate_store_errors_total',
      help: 'Rate-limit decisions the shared store could not make, by reason (timeout, connection, script, other, unavailable: store known down).',
      labelNames: ['reason'],
      registers,
    });
    this.#storeUp = new Gauge({
      name: 'throttlegate_store_up',
      help: '1 when decisions come from the configured store, 0 while on_error applies.',
      registers,
    });
    this.#storeUp.set(1);
    this.#localDenials = new Counter({
      name: 'throttlegate_store_local_denials_total',
      help: 'Refusals answered from the local over-limit cache without asking the shared store.',
      registers,
    });
    new Gauge({
      name: 'throttlegate_active_clients',
      help: 'Rate-limit buckets currently held by the store.',
      registers,
      collect() {
        this.set(activeClients());
      },
    });
    collectDefaultMetrics({ register: this.registry });
    // Gauges that prom-client names *_total, which `promtool check metrics` rejects.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  /** Declares a route's series at zero, so dashboards see them before the first request. */
  declareRoute(route: string): void {
    this.#rateLimited.labels(route).inc(0);
    this.#requests.declareRoute(route);
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.#requests.record(route, KNOWN_METHODS.has(method) ? method : 'other', status, seconds);
  }

  countRateLimited(route: string): void {
    this.#rateLimited.labels(route).inc();
  }

  countUpstreamError(route: string, reason: string): void {
    this.#upstreamErrors.labels(route, reason).inc();
  }

  /** The hooks a shared store reports through. */
  readonly storeEvents = {
    onError: (reason: string) => this.#storeErrors.labels(reason).inc(),
    onStateChange: (up: boolean) => this.#storeUp.set(up ? 1 : 0),
    onLocalDenial: () => this.#localDenials.inc(),
  };
}
