import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseWeights, type Weights } from './model.js';

/** The weights `npm run train` writes and the package ships (models/ at the package root). */
export const SHIPPED_WEIGHTS = 'models/risk-v1.json';

/**
 * The shipped weights file, found by walking up from this module: it is
 * dist/adaptive/ in the package and dist-test/src/adaptive/ under test, so
 * the package root is two or three levels up.
 */
export function shippedWeightsPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, SHIPPED_WEIGHTS);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error(`adaptive: ${SHIPPED_WEIGHTS} not found above ${dirname(fileURLToPath(import.meta.url))}; run \`npm run train\` to write it`);
}

export function loadShippedWeights(): Weights {
  const path = shippedWeightsPath();
  return parseWeights(readFileSync(path, 'utf8'), path);
}
