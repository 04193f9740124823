/**
 * Where learned weights live (issue 17, "Model": on Redis every instance
 * scores with the same weights and learns from every instance's feedback; a
 * restart keeps what was learned). One small interface, a Redis and a file
 * implementation (weights-redis.ts, weights-file.ts), and the one JSON
 * encoding both store: a weights file as `npm run train` writes it, with the
 * drift window (drift-window.ts) under `meta`, so a stored copy is still a
 * valid weights file.
 */
import { FEATURE_COUNT } from './types.js';
import { parseWeights, type Weights } from './model.js';

/** The hour window the per-hour drift cap is centred on, shared with the weights so every instance learning them shares it. */
export interface DriftWindow {
  /** The clock hour (ms since the epoch / 3,600,000) the window opened in. */
  readonly hour: number;
  readonly bias: number;
  readonly weights: readonly number[];
}

/** Weights as a store holds them: learned weights, and the drift window their learning is capped by (absent: none opened yet). */
export interface StoredWeights extends Weights {
  readonly window?: DriftWindow;
}

/**
 * Learned weights, shared or kept across restarts. `saveIf` is a
 * compare-and-set on the stored version: it stores `next` only when the
 * stored weights' version is `expectedVersion` (undefined: nothing stored),
 * and answers false when another writer saved first. Both methods reject
 * when the store cannot be reached or holds something that is not weights
 * for this build (never overwritten unseen: an operator removes it).
 */
export interface WeightsStore {
  load(): Promise<StoredWeights | undefined>;
  saveIf(expectedVersion: string | undefined, next: StoredWeights): Promise<boolean>;
  close(): Promise<void>;
}

/** The store could not be read or written, or other writers kept winning: the label was not learned (the admin API answers 503 store_unavailable). */
export class WeightsStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WeightsStoreError';
  }
}

/** The shipped version learned weights started from: `risk-v1+7` -> `risk-v1`. */
export function baseVersion(version: string): string {
  const plus = version.lastIndexOf('+');
  return plus > 0 && /^\d+$/.test(version.slice(plus + 1)) ? version.slice(0, plus) : version;
}

/** The weights alone, without the drift window (what RiskModel takes). */
export function weightsOnly(w: StoredWeights): Weights {
  return { version: w.version, features: w.features, bias: w.bias, weights: w.weights };
}

/** The stored JSON: a weights file, the drift window under meta.window. */
export function encodeWeights(w: StoredWeights): string {
  const file: Record<string, unknown> = { version: w.version, features: w.features, bias: w.bias, weights: w.weights };
  if (w.window !== undefined) file.meta = { window: { hour: w.window.hour, bias: w.window.bias, weights: w.window.weights } };
  return JSON.stringify(file);
}

/** Parses stored JSON; throws an Error naming `source` unless it is weights for this build's features. A malformed window is dropped (a new one opens). */
export function decodeWeights(text: string, source: string): StoredWeights {
  const parsed = parseWeights(text, source);
  const weights: StoredWeights = { version: parsed.version, features: [...parsed.features], bias: parsed.bias, weights: [...parsed.weights] };
  const window = windowOf((JSON.parse(text) as { meta?: { window?: unknown } }).meta?.window);
  return window === undefined ? weights : { ...weights, window };
}

function windowOf(w: unknown): DriftWindow | undefined {
  if (typeof w !== 'object' || w === null) return undefined;
  const { hour, bias, weights } = w as Record<string, unknown>;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!finite(hour) || !finite(bias) || !Array.isArray(weights) || weights.length !== FEATURE_COUNT || !weights.every(finite)) return undefined;
  return { hour, bias, weights: [...weights] as number[] };
}
