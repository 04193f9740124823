import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { RequestSeries, type RouteTotals } from './request-series.js';
import { counterChildren, type CounterChild } from './counter-children.js';

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

/** `route` label for requests that matched no route. */
export const NO_ROUTE = 'none';

/** `plan` label for clients without a plan's key. */
export const ANONYMOUS = 'anonymous';

/**
 * The gateway's Prometheus metrics, on a registry of its own (two gateways in
 * one process, as in tests, do not share counters). Label values are bounded:
 * `route` is a configured path or `none`, `method` one of seven or `other`.
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  /**
   * The text /metrics serves: this registry's, or, in a worker process, the
   * sum over every worker and the primary (cluster/metrics.ts) in its place.
   */
  render: () => Promise<string> = () => this.registry.metrics();
  readonly #requests = new RequestSeries([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]);
  readonly #rateLimited: Counter<'route' | 'plan'>;
  readonly #shadowLimited: Counter<'route' | 'limit'>;
  readonly #delayed: Counter<'route'>;
  readonly #rateLimitedChild: (route: string, plan: string) => CounterChild;
  readonly #upstreamErrors: Counter<'route' | 'reason'>;
  readonly #storeErrors: Counter<'reason'>;
  readonly #storeUp: Gauge;
  readonly #localDenials: Counter;
  readonly #capacityRefusals: Counter;
  readonly #forwardedForMalformed: Counter;
  readonly #upstreamRequests: Counter<'route' | 'target' | 'status'>;
  readonly #upstreamHealthy: Gauge<'route' | 'target'>;
  readonly #circuitState: Gauge<'route' | 'target'>;
  readonly #configReloads: Counter<'result'>;
  readonly #configInfo: Gauge<'hash'>;
  readonly #seriesHolders = new Map<string, number>();
  #rateLimitedTotal = 0;
  #configHash = '';
  #lastReload: RequestSample['lastReload'] = null;
  readonly #beforeScrape = new Set<() => void>();

  constructor(activeClients: () => number) {
    const registers = [this.registry];
    this.#requests.register(this.registry, {
      requests: { name: 'throttlegate_requests_total', help: 'Requests answered, by route, method and status.' },
      duration: { name: 'throttlegate_request_duration_seconds', help: 'Time from request arrival to response end.' },
    });
    this.#rateLimited = new Counter({
      name: 'throttlegate_rate_limited_total',
      help: 'Requests refused with 429 by the rate limiter, by route and plan (a configured plan, or anonymous).',
      labelNames: ['route', 'plan'],
      registers,
    });
    this.#rateLimitedChild = counterChildren(this.#rateLimited);
    this.#shadowLimited = new Counter({
      name: 'throttlegate_shadow_limited_total',
      help: 'Requests a mode: shadow limit would have refused (they were forwarded), by route and limit id.',
      labelNames: ['route', 'limit'],
      registers,
    });
    this.#delayed = new Counter({
      name: 'throttlegate_delayed_total',
      help: 'Requests on_limit held until their limits let them through, by route.',
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
      // Summed over worker processes (cluster/metrics.ts) this would mean nothing: min.
      aggregator: 'min',
      registers,
    });
    this.#storeUp.set(1);
    this.#localDenials = new Counter({
      name: 'throttlegate_store_local_denials_total',
      help: 'Refusals answered from the local over-limit cache without asking the shared store.',
      registers,
    });
    this.#capacityRefusals = new Counter({
      name: 'throttlegate_store_capacity_refusals_total',
      help: 'Requests refused (429) because the memory store held store.memory.max_keys states and every one still limited a client.',
      registers,
    });
    this.#forwardedForMalformed = new Counter({
      name: 'throttlegate_forwarded_for_malformed_total',
      help: 'Requests whose X-Forwarded-For walk (trust_proxy) reached an entry that is not an IP address; the client is the last valid hop.',
      registers,
    });
    this.#upstreamRequests = new Counter({
      name: 'throttlegate_upstream_requests_total',
      help: 'Attempts sent to each pool target, by route, target (URL from config) and status (the gateway status for a failed attempt: 502, 504).',
      labelNames: ['route', 'target', 'status'],
      registers,
    });
    const beforeScrape = this.#beforeScrape;
    this.#upstreamHealthy = new Gauge({
      name: 'throttlegate_upstream_healthy',
      help: '1 while a target is in rotation, 0 while failed health checks, passive ejection or an open circuit keep it out.',
      labelNames: ['route', 'target'],
      // Summed over worker processes (cluster/metrics.ts) this would mean nothing: min.
      aggregator: 'min',
      registers,
      // Ejections and open circuits end with time: targets bring both gauges up to date first.
      collect() {
        for (const refresh of beforeScrape) refresh();
      },
    });
    this.#circuitState = new Gauge({
      name: 'throttlegate_circuit_state',
      help: "A target's circuit breaker: 0 closed, 1 half-open, 2 open.",
      labelNames: ['route', 'target'],
      // Summed over worker processes (cluster/metrics.ts) this would mean nothing: max.
      aggregator: 'max',
      registers,
    });
    this.#configReloads = new Counter({
      name: 'throttlegate_config_reloads_total',
      help: 'Config reloads (SIGHUP or file change), by result (ok, error).',
      labelNames: ['result'],
      registers,
    });
    this.#configInfo = new Gauge({
      name: 'throttlegate_config_info',
      help: 'The live config: 1 for the hash (sha256 prefix of the file) being served.',
      labelNames: ['hash'],
      // Summed over worker processes (cluster/metrics.ts) this would mean nothing: max.
      aggregator: 'max',
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
    this.#rateLimited.labels(route, ANONYMOUS).inc(0);
    this.#requests.declareRoute(route);
  }

  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.#requests.record(route, KNOWN_METHODS.has(method) ? method : 'other', status, seconds);
  }

  countRateLimited(route: string, plan: string = ANONYMOUS): void {
    this.#rateLimitedTotal++;
    this.#rateLimitedChild(route, plan).inc();
  }

  countShadowLimited(route: string, limit: string): void {
    this.#shadowLimited.labels(route, limit).inc();
  }

  countDelayed(route: string): void {
    this.#delayed.labels(route).inc();
  }

  countMalformedForwardedFor(): void {
    this.#forwardedForMalformed.inc();
  }

  countUpstreamError(route: string, reason: string): void {
    this.#upstreamErrors.labels(route, reason).inc();
  }

  /**
   * The series of one pool target. Children are resolved once per status, so
   * counting an attempt costs a Map lookup, not prom-client's label hashing.
   */
  targetSeries(route: string, target: string): TargetSeries {
    // A reload builds the new app's pools before the old app's close: both hold the series a while.
    const holder = `${route}\u0000${target}`;
    this.#seriesHolders.set(holder, (this.#seriesHolders.get(holder) ?? 0) + 1);
    let removed = false;
    const byStatus = new Map<string, { inc(): void }>();
    const healthy = this.#upstreamHealthy.labels(route, target);
    const circuit = this.#circuitState.labels(route, target);
    return {
      countAttempt: (status: number) => {
        const key = String(status);
        let child = byStatus.get(key);
        if (child === undefined) {
          child = this.#upstreamRequests.labels(route, target, key);
          byStatus.set(key, child);
        }
        child.inc();
      },
      setHealthy: (up: boolean) => healthy.set(up ? 1 : 0),
      setCircuit: (value: number) => circuit.set(value),
      remove: () => {
        if (removed) return;
        removed = true;
        const left = (this.#seriesHolders.get(holder) ?? 1) - 1;
        if (left > 0) return void this.#seriesHolders.set(holder, left);
        this.#seriesHolders.delete(holder);
        this.#upstreamHealthy.remove(route, target);
        this.#circuitState.remove(route, target);
      },
    };
  }

  /** Runs `refresh` before each scrape of the target gauges; returns the function that stops it. */
  refreshBeforeScrape(refresh: () => void): () => void {
    this.#beforeScrape.add(refresh);
    return () => this.#beforeScrape.delete(refresh);
  }

  /** `message`: what went wrong, for a failed reload (the dashboard shows it; logs carry the details). */
  countConfigReload(result: 'ok' | 'error', message?: string): void {
    this.#configReloads.labels(result).inc();
    this.#lastReload = { result, at: Date.now(), message };
  }

  /** Marks `hash` as the live config (the previous one's series is removed). */
  setConfigHash(hash: string): void {
    this.#configHash = hash;
    this.#configInfo.reset();
    this.#configInfo.labels(hash).set(1);
  }

  /**
   * What the dashboard samples once a second (dashboard/series.ts): the
   * request counters as plain numbers, read without rendering Prometheus text.
   */
  sample(): RequestSample {
    return { routes: this.#requests.routeTotals(), bounds: this.#requests.bounds, rateLimited: this.#rateLimitedTotal, configHash: this.#configHash, lastReload: this.#lastReload };
  }

  /** Each target's health (1/0) and circuit state (0 closed, 1 half-open, 2 open), by route then target URL, as /metrics would show them now. */
  async targetStates(): Promise<TargetStates> {
    for (const refresh of this.#beforeScrape) refresh();
    const out = new Map<string, Map<string, { healthy: number; circuit: number }>>();
    const at = (route: string, target: string) => {
      let byTarget = out.get(route);
      if (byTarget === undefined) out.set(route, (byTarget = new Map()));
      let state = byTarget.get(target);
      if (state === undefined) byTarget.set(target, (state = { healthy: 1, circuit: 0 }));
      return state;
    };
    for (const v of (await this.#upstreamHealthy.get()).values) at(String(v.labels.route), String(v.labels.target)).healthy = v.value;
    for (const v of (await this.#circuitState.get()).values) at(String(v.labels.route), String(v.labels.target)).circuit = v.value;
    return out;
  }

  /** The hooks a shared store reports through. */
  readonly storeEvents = {
    onError: (reason: string) => this.#storeErrors.labels(reason).inc(),
    onStateChange: (up: boolean) => this.#storeUp.set(up ? 1 : 0),
    onLocalDenial: () => this.#localDenials.inc(),
    onCapacityRefusal: () => this.#capacityRefusals.inc(),
  };
}

/** What a pool target reports into (GatewayMetrics.targetSeries). */
export interface TargetSeries {
  countAttempt(status: number): void;
  setHealthy(up: boolean): void;
  setCircuit(value: number): void;
  /** Drops the target's gauges once no live pool holds them (a reload removed the target). */
  remove(): void;
}

/** GatewayMetrics.sample(): cumulative request counts, as one reader sees them at one instant. */
export interface RequestSample {
  readonly routes: readonly RouteTotals[];
  /** The latency histogram's bounds in seconds. */
  readonly bounds: readonly number[];
  /** Requests refused by a limit (throttlegate_rate_limited_total, every label). */
  readonly rateLimited: number;
  readonly configHash: string;
  readonly lastReload: { readonly result: 'ok' | 'error'; readonly at: number; readonly message: string | undefined } | null;
}

/** Route -> target URL -> health (1/0) and circuit state (0 closed, 1 half-open, 2 open). */
export type TargetStates = Map<string, Map<string, { healthy: number; circuit: number }>>;
