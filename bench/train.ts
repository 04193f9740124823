/**
 * `npm run train`: fits the risk model on the bundled generator's labelled
 * traffic (src/adaptive/training.ts, fixed seeds) and writes
 * models/risk-v1.json, the weights the package ships. Deterministic: run it
 * twice, get the same file.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRAINING, train } from '../src/adaptive/training.js';
import { DEFAULT_MIX } from '../src/adaptive/traffic/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const out = join(ROOT, 'models', 'risk-v1.json');
const result = train(DEFAULT_MIX, 'risk-v1');
const round = (n: number): number => Math.round(n * 1e6) / 1e6;
const file = {
  ...result.weights,
  bias: round(result.weights.bias),
  weights: result.weights.weights.map(round),
  meta: { trained_on: `generator DEFAULT_MIX, seed ${TRAINING.seed}, ${TRAINING.durationMs / 1000} s`, rows: result.rows, options: TRAINING, held_out: result.heldOut },
};
writeFileSync(out, `${JSON.stringify(file, null, 2)}\n`);
console.log(`wrote ${out}: ${result.rows} rows; held out (seed ${TRAINING.heldOutSeed}) at score 60: precision ${result.heldOut.precision.toFixed(3)}, recall ${result.heldOut.recall.toFixed(3)}, accuracy ${result.heldOut.accuracy.toFixed(3)}`);
