/**
 * Batch training for the risk model: logistic regression by seeded
 * mini-batch gradient descent on the mean log loss with L2 on the weights
 * (not the bias). Pure and deterministic: the same rows, options and seed
 * give bit-identical weights, so `npm run train` is reproducible from the
 * repository.
 */
import { mulberry32, shuffle } from './random.js';
import { sigmoid, toScore } from './model.js';

/** One labelled feature vector: y = 1 for bad, 0 for good. */
export interface TrainingRow {
  readonly x: Float64Array;
  readonly y: 0 | 1;
}

export interface FitOptions {
  readonly epochs: number;
  readonly learningRate: number;
  /** L2 penalty strength on the weights (the bias is not penalised). */
  readonly l2: number;
  /** Seeds the per-epoch shuffle (mulberry32). */
  readonly seed: number;
  /** Rows per gradient step; default 32. Use rows.length (or more) for full-batch descent. */
  readonly batchSize?: number;
  /**
   * Keep every weight >= 0 (projected gradient descent). The risk features all
   * measure something suspicious; a negative weight would let a client buy a
   * lower score by doing more of it (sending faster, say), so the shipped
   * model is trained with this on.
   */
  readonly nonNegative?: boolean;
}

export interface Fitted {
  readonly bias: number;
  readonly weights: number[];
}

/** Fits bias and weights (starting from zero) to `rows`, which must be non-empty and all of one length. */
export function fitLogistic(rows: readonly TrainingRow[], options: FitOptions): Fitted {
  const first = rows[0];
  if (!first) throw new RangeError('fitLogistic: no rows to train on');
  const n = first.x.length;
  for (const [i, row] of rows.entries()) {
    if (row.x.length !== n) throw new RangeError(`fitLogistic: row ${i} has ${row.x.length} features, row 0 has ${n}`);
  }
  const batchSize = Math.max(1, Math.floor(options.batchSize ?? 32));
  const random = mulberry32(options.seed);
  const order = rows.map((_, i) => i);
  const w = new Float64Array(n);
  const grad = new Float64Array(n);
  let bias = 0;
  for (let epoch = 0; epoch < options.epochs; epoch++) {
    shuffle(order, random);
    for (let start = 0; start < order.length; start += batchSize) {
      const end = Math.min(order.length, start + batchSize);
      grad.fill(0);
      let gradBias = 0;
      for (let k = start; k < end; k++) {
        const row = rows[order[k] as number] as TrainingRow;
        let z = bias;
        for (let i = 0; i < n; i++) z += (w[i] as number) * (row.x[i] as number);
        const err = sigmoid(z) - row.y;
        gradBias += err;
        for (let i = 0; i < n; i++) grad[i] = (grad[i] as number) + err * (row.x[i] as number);
      }
      const size = end - start;
      const rate = options.learningRate;
      for (let i = 0; i < n; i++) {
        const next = (w[i] as number) - rate * ((grad[i] as number) / size + options.l2 * (w[i] as number));
        w[i] = options.nonNegative === true ? Math.max(0, next) : next;
      }
      bias -= (rate * gradBias) / size;
    }
  }
  return { bias, weights: Array.from(w) };
}

export interface Evaluation {
  readonly precision: number;
  readonly recall: number;
  readonly accuracy: number;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly trueNegatives: number;
  readonly falseNegatives: number;
}

/**
 * Measures `weights` on labelled rows: a row is predicted bad when its 0..100
 * score (as RiskModel computes it) is at or above `threshold`, the same units
 * as the bands' bounds. With nothing predicted bad precision is 1 (no false
 * alarms); with no bad rows recall is 1 (nothing missed); with no rows accuracy is 1.
 */
export function evaluate(rows: readonly TrainingRow[], weights: { readonly bias: number; readonly weights: readonly number[] }, threshold: number): Evaluation {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  for (const [r, row] of rows.entries()) {
    if (row.x.length !== weights.weights.length) {
      throw new RangeError(`evaluate: row ${r} has ${row.x.length} features, the weights ${weights.weights.length}`);
    }
    let z = weights.bias;
    for (let i = 0; i < row.x.length; i++) z += (weights.weights[i] as number) * (row.x[i] as number);
    const bad = toScore(z) >= threshold;
    if (bad && row.y === 1) tp++;
    else if (bad) fp++;
    else if (row.y === 1) fn++;
    else tn++;
  }
  return {
    precision: tp + fp === 0 ? 1 : tp / (tp + fp),
    recall: tp + fn === 0 ? 1 : tp / (tp + fn),
    accuracy: rows.length === 0 ? 1 : (tp + tn) / rows.length,
    truePositives: tp,
    falsePositives: fp,
    trueNegatives: tn,
    falseNegatives: fn,
  };
}
