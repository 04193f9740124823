import type { RouteConfig } from '../config/types.js';
import type { TargetSeries } from '../observability/metrics.js';
import { createBalancer, type Balancer } from './balancer.js';
import { startHealthChecks } from './health-check.js';
import { Target } from './target.js';
import { causeCodes } from '../proxy/errors.js';

export interface PoolOptions {
  readonly series: (target: string) => TargetSeries;
  /** The gateway status a failed attempt maps to (502, 504): the metric's `status` label. */
  readonly statusOfError: (error: unknown) => number;
  readonly onStateChange: (target: string, change: string) => void;
  /** Registers a function to run before each metrics scrape; returns its unregistration. */
  readonly refreshBeforeScrape: (refresh: () => void) => () => void;
  readonly now?: () => number;
  readonly random?: () => number;
  /**
   * Health found by the pool this one replaces (a reload), by target URL.
   * Carried only when both check the same way, so a reload does not send
   * traffic to a target known to be down until its checks fail again.
   * Read by the constructor only, never kept (see there).
   */
  readonly previous?: UpstreamPool;
}

// RFC 9110 idempotent methods: sent again only when they carry no body (a body stream cannot be replayed).
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
// Failures before a request could reach the target, so trying another one cannot repeat it.
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The targets of one route and the choice between them. `choose()` picks a
 * target for a request (the proxy's preHandler answers 503 when there is
 * none); the forwarding core (proxy/forward.ts) sends to that target's own
 * keep-alive pool and reports back here: `responded` with the response
 * status, `failed` with an error before any response. Both feed metrics,
 * passive ejection and the breaker; `failed` also says where to retry: for
 * an idempotent request without a body whose connection failed, another
 * available target, up to `retries` times.
 */
export class UpstreamPool {
  readonly #targets: readonly Target[];
  readonly #balancer: Balancer<Target>;
  readonly #retries: number;
  readonly #statusOfError: (error: unknown) => number;
  readonly #stopChecks: () => void;
  readonly #stopRefresh: () => void;

  readonly #healthCheck: string;

  constructor(route: RouteConfig, options: PoolOptions) {
    // No closure made here may see `options`: it names the previous pool, and
    // a pool holding its predecessor would keep every retired config's app alive.
    const { previous, series, onStateChange, now = Date.now } = options;
    this.#healthCheck = JSON.stringify(route.upstream.healthCheck);
    const carried = previous?.healthByUrl(this.#healthCheck);
    this.#targets = route.upstream.targets.map(
      (config) =>
        new Target(config, route.upstream, {
          healthy: carried?.get(config.url),
          connectTimeoutMs: Math.min(route.timeoutMs, 10_000),
          tlsVerify: route.tlsVerify,
          now,
          series: series(config.url),
          onStateChange: (target, change) => onStateChange(target.config.url, change),
        }),
    );
    this.#balancer = createBalancer<Target>(route.upstream.balance, options.random);
    this.#retries = route.upstream.retries;
    this.#statusOfError = options.statusOfError;
    this.#stopChecks = route.upstream.healthCheck ? startHealthChecks(this.#targets, route.upstream.healthCheck) : () => {};
    this.#stopRefresh = options.refreshBeforeScrape(() => {
      for (const t of this.#targets) t.refresh();
    });
  }

  /** Each target's health, when this pool checks the way `healthCheck` (JSON) says; empty otherwise. */
  healthByUrl(healthCheck: string): ReadonlyMap<string, boolean> {
    if (healthCheck !== this.#healthCheck || healthCheck === 'null') return new Map();
    return new Map(this.#targets.map((t) => [t.config.url, t.healthy]));
  }

  /** The target for the next request, or undefined when none is available (every one unhealthy, ejected or open). */
  choose(exclude?: readonly Target[]): Target | undefined {
    if (this.#targets.length === 1) {
      // The common case, a plain `upstream: URL`, allocates nothing.
      const only = this.#targets[0] as Target;
      return only.available && exclude === undefined && only.acquire() ? only : undefined;
    }
    const candidates = this.#targets.filter((t) => t.available && (exclude === undefined || !exclude.includes(t)));
    for (;;) {
      const picked = this.#balancer.pick(candidates);
      if (picked === undefined || picked.acquire()) return picked;
      // A half-open breaker's probe was taken in the meantime: try the others.
      candidates.splice(candidates.indexOf(picked), 1);
    }
  }

  /** An attempt's response head arrived: a 5xx counts against the target. */
  responded(target: Target, status: number): void {
    target.record(status, status < 500);
  }

  /**
   * An attempt failed before any response (refused, reset, timed out).
   * Records it and returns the target to try next, already in `tried`, or
   * undefined when the request may not be retried: only an idempotent
   * request without a body, only after a connect failure (it never reached
   * the target, so sending it again cannot repeat it), at most `retries` times.
   */
  failed(target: Target, error: unknown, tried: Target[], method: string, hasBody: boolean): Target | undefined {
    target.record(this.#statusOfError(error), false);
    if (tried.length > this.#retries || hasBody || !IDEMPOTENT.has(method) || !connectFailure(error)) return undefined;
    const next = this.choose(tried);
    if (next !== undefined) tried.push(next);
    return next;
  }

  async close(): Promise<void> {
    this.#stopChecks();
    this.#stopRefresh();
    await Promise.all(this.#targets.map((t) => t.close()));
  }
}

function connectFailure(err: unknown): boolean {
  return causeCodes(err).some((code) => CONNECT_FAILURES.has(code));
}
