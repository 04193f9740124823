import type { Assessment } from '../engine.js';
import { GradientController, type GradientOptions } from './gradient.js';

/** The bands admission tells apart: a blocked client never gets this far in enforce mode. */
export type AdmissionBand = 'trusted' | 'normal' | 'suspicious';

/**
 * The share of a route's concurrency limit each band may fill: a request is
 * admitted while the requests in flight are fewer than limit x share. When
 * the upstream slows and the limit drops, in-flight requests first reach
 * half the limit, where suspicious requests stop being admitted, then 90 %,
 * where normal ones stop; trusted ones may fill it. The order is strict: at
 * any instant, a request refused in one band would be refused in every band
 * below it, so no suspicious request is admitted while a normal or trusted
 * one is shed (the DAGOR / Cinnamon idea of priority shedding, on one knob).
 */
export const BAND_SHARES: Readonly<Record<AdmissionBand, number>> = Object.freeze({ trusted: 1, normal: 0.9, suspicious: 0.5 });

/**
 * The band a request is admitted as. Only an enforced assessment counts: in
 * shadow mode scores change nothing a client sees, so, like a request never
 * assessed (adaptive: off, or an operator's override), it counts as normal.
 */
export function admissionBand(risk: Assessment | undefined, enforce: boolean): AdmissionBand {
  if (risk === undefined || !enforce) return 'normal';
  return risk.band === 'blocked' ? 'suspicious' : risk.band;
}

/** Bands from least to most trusted: a band's rank is its index. */
const RANK: Readonly<Record<AdmissionBand, number>> = Object.freeze({ suspicious: 0, normal: 1, trusted: 2 });

/** Whether a request of a band with `share` is admitted with `inFlight` requests in flight under `limit`. */
export function admits(inFlight: number, limit: number, share: number): boolean {
  return inFlight < limit * share;
}

/**
 * One route's adaptive concurrency: the gradient controller and the count of
 * requests in flight to its upstream. Time is passed in (ms). Every acquire
 * that returns true must be matched by exactly one release.
 */
export class RouteConcurrency {
  readonly options: GradientOptions;
  readonly #controller: GradientController;
  #inFlight = 0;
  /**
   * Per rank, until when that band is shed because a more trusted band was:
   * shares alone order admission at each instant, but a slot freed a moment
   * after a normal request was shed would go to the next suspicious one. For
   * one sample window after shedding a band, every less trusted band is shed
   * outright, so across that window too the capacity goes to the trusted
   * first (DAGOR's admission level, held for a window).
   */
  readonly #shedUntil = [0, 0, 0];

  constructor(options: GradientOptions, now: number) {
    this.options = options;
    this.#controller = new GradientController(options, now);
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** The limit in force (as of the last acquire or release). */
  get limit(): number {
    return this.#controller.limit;
  }

  get controller(): GradientController {
    return this.#controller;
  }

  /** Takes a slot for a request of `band` at `now` if its share of the limit has room. */
  tryAcquire(band: AdmissionBand, now: number): boolean {
    this.#controller.tick(now);
    const rank = RANK[band];
    if (now < (this.#shedUntil[rank] as number) || !admits(this.#inFlight, this.#controller.limit, BAND_SHARES[band])) {
      const until = now + this.options.sampleWindowMs;
      for (let less = 0; less < rank; less++) if ((this.#shedUntil[less] as number) < until) this.#shedUntil[less] = until;
      return false;
    }
    this.#inFlight++;
    return true;
  }

  /**
   * Gives back a slot taken at `startedAt`. A completed response is a latency
   * sample; one whose client went away is not (its latency says nothing of the upstream).
   */
  release(startedAt: number, now: number, completed: boolean): void {
    this.#inFlight--;
    if (completed) this.#controller.record(startedAt, now);
    else this.#controller.tick(now);
  }
}
