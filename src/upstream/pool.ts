import type { Dispatcher } from 'undici';
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

type RequestOptions = Dispatcher.RequestOptions & { origin: string; headers: Record<string | symbol, unknown> };

/**
 * Where a retry tells the request which target finally served it: a function
 * stored under this symbol in the request headers handed to reply-from.
 * reply-from copies headers with Object.assign, which keeps enumerable
 * symbol keys, and undici sends string keys only; the pool removes it anyway.
 */
export const kServedBy = Symbol('throttlegate.servedBy');
/**
 * Where the proxy hands over the signal that cancels the request when its
 * client goes away (proxy/client-abort.ts): reply-from's options to undici
 * carry no `signal`, so it travels the same way as kServedBy.
 */
export const kClientGone = Symbol('throttlegate.clientGone');
type RequestCallback = (err: Error | null, data?: Dispatcher.ResponseData) => void;

// RFC 9110 idempotent methods; reply-from sends them with an empty body unless the client sent one.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
// Failures before a request could reach the target, so trying another one cannot repeat it.
const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * The targets of one route and the choice between them. `choose()` picks a
 * target for a request (the proxy's preHandler answers 503 when there is
 * none); `dispatcher` is what @fastify/reply-from sends through: it is handed
 * the chosen target's origin, sends to that target's own keep-alive pool,
 * records the outcome (metrics, passive ejection, breaker) and, for an
 * idempotent request without a body whose connection failed, retries on
 * another available target up to `retries` times.
 */
export class UpstreamPool {
  readonly #targets: readonly Target[];
  readonly #byOrigin: ReadonlyMap<string, Target>;
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
    this.#byOrigin = new Map(this.#targets.map((t) => [t.config.origin, t]));
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

  /** reply-from's `undici` option: anything with undici's `request(options, callback)`. */
  readonly dispatcher = {
    request: (opts: RequestOptions, callback: RequestCallback): void => {
      const target = this.#byOrigin.get(opts.origin);
      if (target === undefined) return callback(new Error(`no pool target has origin ${opts.origin}`));
      const servedBy = opts.headers[kServedBy] as ((url: string) => void) | undefined;
      delete opts.headers[kServedBy];
      opts.signal = opts.headers[kClientGone] as RequestOptions['signal'];
      delete opts.headers[kClientGone];
      this.#attempt(target, opts, callback, [target], servedBy);
    },
    close: () => this.close(),
    destroy: () => this.close(),
  };

  #attempt(target: Target, opts: RequestOptions, callback: RequestCallback, tried: Target[], servedBy?: (url: string) => void): void {
    target.inFlight++;
    target.pool.request(opts, (err, data) => {
      if (err) {
        target.inFlight--;
        // The client went away: nothing the target did, so nothing to record and no one to retry for.
        if ((opts.signal as { aborted?: boolean } | null | undefined)?.aborted) return callback(err);
        target.record(this.#statusOfError(err), false);
        const next = tried.length <= this.#retries && isRetryable(opts, err) ? this.choose(tried) : undefined;
        if (next === undefined) return callback(err);
        tried.push(next);
        opts.headers.host = next.host;
        servedBy?.(next.config.url);
        return this.#attempt(next, { ...opts, origin: next.config.origin }, callback, tried, servedBy);
      }
      target.record(data.statusCode, data.statusCode < 500);
      let open = true;
      const finished = (): void => {
        if (open) target.inFlight--;
        open = false;
      };
      data.body.once('close', finished).once('error', finished);
      callback(null, data);
    });
  }

  async close(): Promise<void> {
    this.#stopChecks();
    this.#stopRefresh();
    await Promise.all(this.#targets.map((t) => t.close()));
  }
}

function isRetryable(opts: RequestOptions, err: Error): boolean {
  if (!IDEMPOTENT.has(opts.method) || (opts.body !== undefined && opts.body !== null && opts.body !== '')) return false;
  return connectFailure(err);
}

function connectFailure(err: unknown): boolean {
  return causeCodes(err).some((code) => CONNECT_FAILURES.has(code));
}
