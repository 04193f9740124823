import { RiskModel, type LearningOptions, type Weights } from './model.js';
import { weightsOnly, type DriftWindow, type StoredWeights } from './weights-store.js';
import type { TrafficLabel } from './types.js';

const HOUR_MS = 3_600_000;

/**
 * The drift window a learning step on shared weights is capped by. RiskModel
 * caps each weight's move within one clock hour around its values when the
 * hour began, but it keeps that anchor in the instance: with weights shared
 * through a store, each swap to another instance's weights would open a new
 * anchor, and labels sent to instances in turn would walk the model without
 * limit. So the window travels with the stored weights: the stored one while
 * its hour is current (or ahead: a clock behind keeps it, as RiskModel does),
 * else a new one at the weights the step starts from.
 */
export function windowFor(from: StoredWeights, now: number): DriftWindow {
  const hour = Math.floor(now / HOUR_MS);
  if (from.window !== undefined && from.window.hour >= hour) return from.window;
  return { hour, bias: from.bias, weights: [...from.weights] };
}

/** `learned` with each weight and the bias held within `cap` of the window's, and the window kept with them. */
export function clampToWindow(learned: Weights, window: DriftWindow, cap: number): StoredWeights {
  const clamp = (v: number, anchor: number) => Math.min(anchor + cap, Math.max(anchor - cap, v));
  return {
    version: learned.version,
    features: learned.features,
    bias: clamp(learned.bias, window.bias),
    weights: learned.weights.map((w, i) => clamp(w, window.weights[i] as number)),
    window,
  };
}

/**
 * One SGD step (RiskModel.learn) from stored weights on features `x`, held
 * within the stored hour's window: the weights to save, and the score of
 * `x` before the step.
 */
export function sharedStep(from: StoredWeights, x: Float64Array, label: TrafficLabel, now: number, learning: LearningOptions): { next: StoredWeights; before: number } {
  const model = new RiskModel(weightsOnly(from), learning);
  const { before } = model.learn(x, label, now);
  return { next: clampToWindow(model.weights, windowFor(from, now), learning.maxDriftPerHour), before };
}
