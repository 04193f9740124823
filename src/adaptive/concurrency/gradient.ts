/**
 * Envoy's adaptive concurrency gradient controller, pure: time is passed in
 * (ms), nothing reads a clock or sets a timer; a window ends at the first
 * call (tick or record) at or after its end.
 *
 * Source: https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/adaptive_concurrency_filter
 * and envoyproxy/envoy gradient_controller.cc. Every `sampleWindowMs`, over
 * the latencies of the requests that completed in the window:
 *
 *   sampleRTT = p90 of the window's latencies
 *   gradient  = clamp((minRTT + buffer x minRTT) / sampleRTT, 0.5, 2)
 *   limit'    = gradient x limit
 *   newLimit  = clamp(floor(limit' + sqrt(limit')), minLimit, maxLimit)
 *
 * so the limit grows (by a quarter plus headroom, with the default buffer)
 * while latency stays at minRTT and halves, plus headroom, while latency is
 * 2.5 x minRTT or more. A window with no completed request changes nothing.
 * sqrt(limit') is the burst headroom: at equilibrium the limit sits a little
 * above what the upstream serves without queueing, so it is used in full.
 *
 * minRTT, the latency with no queueing, is measured with the limit pinned to
 * minLimit: at the first request, then every `minRttIntervalMs` after the
 * last measurement, and at once when the limit has been set to minLimit in
 * 5 consecutive windows (a stale, too-low minRTT looks like that). A
 * measurement ends after MIN_RTT_SAMPLES latencies (or MIN_RTT_MAX_WINDOWS
 * windows, with at least one), takes their p90 and gives back the limit held
 * before it. Latencies of requests that started before a measurement began
 * are ignored: they did not run at the pinned concurrency.
 *
 * Defaults (config.ts): minLimit 3, maxLimit 1000 (Envoy's min_concurrency
 * and max_concurrency_limit), initialLimit 20, sampleWindow 100ms and
 * minRttInterval 60s (the values of Envoy's documented example), buffer 0.25
 * (Envoy's 25 %). Departures from Envoy, each for a reason: p90 rather than
 * p50 (a slowing upstream shows in its tail first, so shedding starts
 * sooner); 20 minRTT samples rather than 50, and a cap on a measurement's
 * length (a pinned limit sheds traffic: a short measurement sheds less); no
 * start jitter (one gateway process measures one upstream; workers start at
 * different times anyway).
 */

/** The controller's parameters, resolved (config.ts). */
export interface GradientOptions {
  readonly minLimit: number;
  readonly maxLimit: number;
  /** The limit until the first window after the first minRTT measurement moves it. */
  readonly initialLimit: number;
  readonly sampleWindowMs: number;
  readonly minRttIntervalMs: number;
  /** The share of minRTT latency may exceed it by before the limit shrinks (0.25 = 25 %). */
  readonly buffer: number;
}

/** The latency percentile summarising a window (and a minRTT measurement). */
export const PERCENTILE = 0.9;
/** Latencies a minRTT measurement collects. */
export const MIN_RTT_SAMPLES = 20;
/** A minRTT measurement lasts at most this many sample windows (once it has a latency). */
export const MIN_RTT_MAX_WINDOWS = 20;
/** Consecutive windows at minLimit that start a new minRTT measurement. */
export const AT_MIN_WINDOWS = 5;
const GRADIENT_MIN = 0.5;
const GRADIENT_MAX = 2;
// Latencies kept per window: past this, the latest overwrite the oldest (a p90 of 1024 is plenty).
const CAPACITY = 1024;

/** See the module comment. One instance per route; not shared across processes. */
export class GradientController {
  readonly #o: GradientOptions;
  #limit: number;
  #minRtt = 0;
  #sampleRtt = 0;
  #gradient = 1;
  #windowStart: number;
  #measuring = false;
  #measureStart = 0;
  /** Requests that started before this instant are not sampled. */
  #epoch = -Infinity;
  #heldLimit = 0;
  #nextMeasureAt: number;
  #atMin = 0;
  readonly #samples = new Float64Array(CAPACITY);
  readonly #scratch = new Float64Array(CAPACITY);
  #count = 0;

  constructor(options: GradientOptions, now: number) {
    this.#o = options;
    this.#limit = clamp(options.initialLimit, options.minLimit, options.maxLimit);
    this.#windowStart = now;
    // Nothing is known of the upstream yet: measure at the first call.
    this.#nextMeasureAt = now;
  }

  /** The concurrency limit in force. */
  get limit(): number {
    return this.#limit;
  }

  /** The last measured minRTT (ms); 0 before the first measurement. */
  get minRtt(): number {
    return this.#minRtt;
  }

  /** The last window's p90 latency (ms); 0 before the first window. */
  get sampleRtt(): number {
    return this.#sampleRtt;
  }

  get gradient(): number {
    return this.#gradient;
  }

  /** True while minRTT is being measured (the limit is pinned to minLimit). */
  get measuring(): boolean {
    return this.#measuring;
  }

  /** Ends whatever window or measurement is due by `now`. Call before reading `limit`. */
  tick(now: number): void {
    if (this.#measuring) {
      if (this.#count > 0 && now - this.#measureStart >= MIN_RTT_MAX_WINDOWS * this.#o.sampleWindowMs) this.#endMeasurement(now);
      return;
    }
    if (now >= this.#nextMeasureAt) return this.#beginMeasurement(now);
    if (now - this.#windowStart >= this.#o.sampleWindowMs) this.#endWindow(now);
  }

  /** A request that started at `startedAt` (when its slot was taken) completed at `now`. */
  record(startedAt: number, now: number): void {
    this.tick(now);
    if (startedAt < this.#epoch) return;
    this.#samples[this.#count % CAPACITY] = Math.max(0, now - startedAt);
    this.#count++;
    if (this.#measuring && this.#count >= MIN_RTT_SAMPLES) this.#endMeasurement(now);
  }

  #beginMeasurement(now: number): void {
    this.#measuring = true;
    this.#measureStart = now;
    this.#epoch = now;
    this.#heldLimit = this.#limit;
    this.#limit = this.#o.minLimit;
    this.#atMin = 0;
    this.#count = 0;
  }

  #endMeasurement(now: number): void {
    // Without a latency (no traffic) the old minRTT stands; tick() waits for one before ending a measurement, so only a first one can lack it.
    if (this.#count > 0) this.#minRtt = this.#percentile();
    this.#count = 0;
    this.#measuring = false;
    this.#limit = this.#heldLimit;
    this.#windowStart = now;
    this.#nextMeasureAt = now + this.#o.minRttIntervalMs;
  }

  #endWindow(now: number): void {
    this.#windowStart = now;
    if (this.#count === 0) return;
    this.#sampleRtt = this.#percentile();
    this.#count = 0;
    const buffered = this.#minRtt * (1 + this.#o.buffer);
    // A latency of 0 (a sub-millisecond clock) is as good as it gets: grow.
    this.#gradient = this.#sampleRtt > 0 ? clamp(buffered / this.#sampleRtt, GRADIENT_MIN, GRADIENT_MAX) : GRADIENT_MAX;
    const scaled = this.#gradient * this.#limit;
    const next = clamp(Math.floor(scaled + Math.sqrt(scaled)), this.#o.minLimit, this.#o.maxLimit);
    const min = this.#o.minLimit;
    this.#atMin = this.#limit === min && next === min ? this.#atMin + 1 : 0;
    this.#limit = next;
    if (this.#atMin >= AT_MIN_WINDOWS) this.#beginMeasurement(now);
  }

  /** The p90 of the latencies held (nearest rank), which are then dropped by the caller. */
  #percentile(): number {
    const n = Math.min(this.#count, CAPACITY);
    const sorted = this.#scratch.subarray(0, n);
    sorted.set(this.#samples.subarray(0, n));
    sorted.sort();
    return sorted[Math.max(0, Math.ceil(PERCENTILE * n) - 1)] as number;
  }
}

function clamp(value: number, low: number, high: number): number {
  return value < low ? low : value > high ? high : value;
}
