import { Pool } from 'undici';
import type { TargetConfig, UpstreamConfig } from '../config/types.js';
import type { TargetSeries } from '../observability/metrics.js';
import { CircuitBreaker, CIRCUIT_STATE_VALUE, type CircuitState } from './breaker.js';
import { PassiveEjection } from './ejection.js';

export interface TargetOptions {
  /** The health a previous config's pool had found for this target (a reload); healthy when new. */
  readonly healthy?: boolean;
  readonly connectTimeoutMs: number;
  readonly tlsVerify: boolean;
  readonly now: () => number;
  readonly series: TargetSeries;
  /** Told once per change of availability (health check, ejection, breaker), for the one log line. */
  readonly onStateChange: (target: Target, change: string) => void;
}

/**
 * One upstream target: its own undici keep-alive pool (a slow target fills
 * only its own sockets) and what decides whether it takes requests: active
 * health, passive ejection and the circuit breaker.
 */
export class Target {
  readonly config: TargetConfig;
  readonly host: string;
  readonly weight: number;
  readonly pool: Pool;
  /** Attempts sent and not yet finished (response body ended or failed). */
  inFlight = 0;
  #healthy = true;
  #wasEjected = false;
  #wasServing = true;
  #circuit: CircuitState = 'closed';
  readonly #ejection: PassiveEjection | null;
  readonly #breaker: CircuitBreaker | null;
  readonly #options: TargetOptions;

  constructor(config: TargetConfig, upstream: UpstreamConfig, options: TargetOptions) {
    this.config = config;
    this.host = new URL(config.origin).host;
    this.weight = config.weight;
    this.#options = options;
    this.#healthy = options.healthy ?? true;
    this.pool = new Pool(config.origin, {
      connections: 128,
      pipelining: 1,
      connect: { timeout: options.connectTimeoutMs, rejectUnauthorized: options.tlsVerify },
    });
    this.#ejection = upstream.passive ? new PassiveEjection(upstream.passive, options.now) : null;
    this.#breaker = upstream.circuitBreaker ? new CircuitBreaker(upstream.circuitBreaker, options.now) : null;
    this.#wasServing = this.#healthy;
    options.series.setHealthy(this.#healthy);
    options.series.setCircuit(CIRCUIT_STATE_VALUE.closed);
  }

  /** What active health checks last concluded (true when there are none). */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** May a request be sent here now? Does not take a half-open probe slot. */
  get available(): boolean {
    return this.#refresh();
  }

  /** Brings gauges up to date with time (a scrape calls this: ejections and open circuits end without an event). */
  refresh(): void {
    this.#refresh();
  }

  /** Takes the target for one attempt (the breaker's half-open probe slot, if that is where it is). */
  acquire(): boolean {
    return this.#breaker?.tryAcquire() ?? true;
  }

  /** The outcome of one attempt: a response status, or a failure without one (ok false). */
  record(status: number, ok: boolean): void {
    this.#options.series.countAttempt(status);
    this.#ejection?.record(ok);
    this.#breaker?.record(ok);
    this.#refresh();
  }

  /** Active health checks report here. */
  setHealthy(healthy: boolean): void {
    if (healthy === this.#healthy) return;
    this.#healthy = healthy;
    this.#options.onStateChange(this, healthy ? 'health check passing' : 'health check failing');
    this.#refresh();
  }

  /**
   * Availability, and its changes reported: gauges, and one log line per
   * change (health changes are logged by setHealthy). Ejection and the
   * breaker's open period end with time, not with an event, so they are
   * noticed when availability is next read: by a request, or by a scrape.
   */
  #refresh(): boolean {
    const ejected = this.#ejection?.ejected ?? false;
    const circuit = this.#breaker?.state ?? 'closed';
    if (circuit !== this.#circuit) {
      this.#circuit = circuit;
      this.#options.series.setCircuit(CIRCUIT_STATE_VALUE[circuit]);
      this.#options.onStateChange(this, `circuit ${circuit}`);
    }
    if (ejected !== this.#wasEjected) {
      this.#wasEjected = ejected;
      this.#options.onStateChange(this, ejected ? 'ejected after consecutive failures' : 'back in rotation');
    }
    // The gauge says whether the target is in rotation; a half-open circuit is, though it takes one probe at a time.
    const serving = this.#healthy && !ejected && circuit !== 'open';
    if (serving !== this.#wasServing) {
      this.#wasServing = serving;
      this.#options.series.setHealthy(serving);
    }
    return serving && (this.#breaker?.available() ?? true);
  }

  async close(): Promise<void> {
    this.#options.series.remove();
    await this.pool.close();
  }
}
