/**
 * The risk model: logistic regression over the feature table's normalised
 * features (types.ts). Scoring is one dot product with no sorting and three
 * small objects allocated, so it fits the 2 µs per request budget; learning
 * is one bounded SGD step per label, capped per hour so a burst of wrong
 * feedback cannot walk the model far from what shipped.
 */
import { FEATURE_COUNT, FEATURE_NAMES, type Contribution, type RiskScore } from './types.js';

/** A weights file: the feature list it was trained on (checked against this build's), bias and one weight per feature. */
export interface Weights {
  readonly version: string;
  readonly features: readonly string[];
  readonly bias: number;
  readonly weights: readonly number[];
}

/** Online learning: SGD step size, and how far any one weight (bias included) may move within one clock hour. */
export interface LearningOptions {
  readonly rate: number;
  readonly maxDriftPerHour: number;
}

export const DEFAULT_LEARNING: LearningOptions = Object.freeze({ rate: 0.05, maxDriftPerHour: 0.5 });

const HOUR_MS = 3_600_000;

/** The logistic function, written so neither tail overflows exp(). */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** A logit as a 0..100 risk score. */
export function toScore(z: number): number {
  return Math.round(100 * sigmoid(z));
}

/**
 * Scores clients and learns from labels. Versioning: a model that has learned
 * reports `<shipped>+<n>`, n the number of learn() steps since the shipped
 * weights; built from weights already at `<shipped>+<n>` (restored from a
 * store) it keeps counting from n.
 */
export class RiskModel {
  readonly #w = new Float64Array(FEATURE_COUNT);
  #bias: number;
  readonly #baseVersion: string;
  #updates: number;
  readonly #learning: LearningOptions;
  // The values at the start of the current hour window: the centre of the drift cap.
  readonly #anchor = new Float64Array(FEATURE_COUNT);
  #anchorBias = 0;
  #windowHour = -Infinity;

  constructor(weights: Weights, learning: LearningOptions = DEFAULT_LEARNING) {
    checkWeights(weights, 'weights');
    if (!(learning.rate >= 0) || !(learning.maxDriftPerHour >= 0)) {
      throw new Error(`learning: rate and maxDriftPerHour must be numbers >= 0 (got ${learning.rate}, ${learning.maxDriftPerHour})`);
    }
    this.#w.set(weights.weights);
    this.#bias = weights.bias;
    const m = /^(.*)\+(\d+)$/.exec(weights.version);
    this.#baseVersion = m ? (m[1] as string) : weights.version;
    this.#updates = m ? Number(m[2]) : 0;
    this.#learning = learning;
  }

  /** The current weights (learned ones included), as a fresh object a store can save and a new RiskModel can load. */
  get weights(): Weights {
    return {
      version: this.#updates === 0 ? this.#baseVersion : `${this.#baseVersion}+${this.#updates}`,
      features: FEATURE_NAMES,
      bias: this.#bias,
      weights: Array.from(this.#w),
    };
  }

  /** Score 0..100 = round(100 * sigmoid(bias + w.x)); top: up to three largest positive contributions, largest first (ties: earlier feature first). */
  score(x: Float64Array): RiskScore {
    if (x.length !== FEATURE_COUNT) throw new RangeError(`feature vector has ${x.length} values, the model expects ${FEATURE_COUNT}`);
    const w = this.#w;
    let z = this.#bias;
    // The three best indices kept by insertion, so no array is sorted per request.
    let i1 = -1, i2 = -1, i3 = -1;
    let c1 = 0, c2 = 0, c3 = 0;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      const c = (w[i] as number) * (x[i] as number);
      z += c;
      if (!(c > 0)) continue;
      if (c > c1) {
        i3 = i2; c3 = c2; i2 = i1; c2 = c1; i1 = i; c1 = c;
      } else if (c > c2) {
        i3 = i2; c3 = c2; i2 = i; c2 = c;
      } else if (c > c3) {
        i3 = i; c3 = c;
      }
    }
    const top: Contribution[] = [];
    if (i1 >= 0) top.push(contribution(i1, x, c1));
    if (i2 >= 0) top.push(contribution(i2, x, c2));
    if (i3 >= 0) top.push(contribution(i3, x, c3));
    return { score: toScore(z), top };
  }

  /**
   * One SGD step on the log loss towards `label` (good = 0, bad = 1):
   * w += rate * (y - p) * x, bias += rate * (y - p). Each weight and the bias
   * stay within maxDriftPerHour of their values when the clock hour of `now`
   * began (hours are aligned to the epoch so every instance sharing weights
   * shares windows). Returns the score before and after the step.
   */
  learn(x: Float64Array, label: 'good' | 'bad', now: number): { before: number; after: number } {
    const before = this.score(x).score;
    const hour = Math.floor(now / HOUR_MS);
    // A clock that steps back keeps the current window rather than reopening an older one.
    if (hour > this.#windowHour) {
      this.#windowHour = hour;
      this.#anchor.set(this.#w);
      this.#anchorBias = this.#bias;
    }
    const w = this.#w;
    let z = this.#bias;
    for (let i = 0; i < FEATURE_COUNT; i++) z += (w[i] as number) * (x[i] as number);
    const step = this.#learning.rate * ((label === 'bad' ? 1 : 0) - sigmoid(z));
    const cap = this.#learning.maxDriftPerHour;
    for (let i = 0; i < FEATURE_COUNT; i++) {
      w[i] = clamp((w[i] as number) + step * (x[i] as number), this.#anchor[i] as number, cap);
    }
    this.#bias = clamp(this.#bias + step, this.#anchorBias, cap);
    this.#updates++;
    return { before, after: this.score(x).score };
  }
}

function contribution(i: number, x: Float64Array, c: number): Contribution {
  return { feature: FEATURE_NAMES[i] as Contribution['feature'], value: x[i] as number, contribution: c };
}

function clamp(v: number, centre: number, radius: number): number {
  return Math.min(centre + radius, Math.max(centre - radius, v));
}

/**
 * Parses and validates a weights file's text. Errors name `source` and the
 * field. Besides the Weights fields, an optional `meta` object (training's
 * seed, dataset, evaluation) is allowed and dropped; any other key is refused.
 */
export function parseWeights(text: string, source: string): Weights {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  checkWeights(data, source);
  return Object.freeze({
    version: data.version,
    features: Object.freeze([...data.features]),
    bias: data.bias,
    weights: Object.freeze([...data.weights]),
  });
}

const KEYS = new Set(['version', 'features', 'bias', 'weights', 'meta']);

/** Throws an Error naming `source` and the field unless `data` is weights for this build's feature list. */
export function checkWeights(data: unknown, source: string): asserts data is Weights {
  const fail = (msg: string): never => {
    throw new Error(`${source}: ${msg}`);
  };
  if (typeof data !== 'object' || data === null || Array.isArray(data)) fail('must be a JSON object');
  const d = data as Record<string, unknown>;
  for (const key of Object.keys(d)) if (!KEYS.has(key)) fail(`unknown field "${key}"`);
  if (typeof d.version !== 'string' || d.version === '') fail('version must be a non-empty string');
  if (!Array.isArray(d.features) || !d.features.every((f) => typeof f === 'string')) fail('features must be an array of strings');
  const features = d.features as string[];
  for (let i = 0; i < Math.max(features.length, FEATURE_COUNT); i++) {
    if (features[i] !== FEATURE_NAMES[i]) {
      fail(
        `features differ from this build's at index ${i}: file has ${JSON.stringify(features[i] ?? null)}, expected ${JSON.stringify(FEATURE_NAMES[i] ?? null)}` +
          ` (file lists ${features.length} features, this build ${FEATURE_COUNT}; retrain with npm run train)`,
      );
    }
  }
  if (typeof d.bias !== 'number' || !Number.isFinite(d.bias)) fail('bias must be a finite number');
  if (!Array.isArray(d.weights)) fail('weights must be an array of numbers');
  const weights = d.weights as unknown[];
  if (weights.length !== features.length) fail(`weights has ${weights.length} values, features has ${features.length}`);
  weights.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`weights[${i}] must be a finite number`);
  });
}
