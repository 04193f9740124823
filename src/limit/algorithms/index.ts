import type { Algorithm, AlgorithmName } from './types.js';
import { tokenBucket } from './token-bucket.js';
import { gcra } from './gcra.js';
import { fixedWindow } from './fixed-window.js';
import { slidingWindow } from './sliding-window.js';
import { concurrency } from './concurrency.js';

export const ALGORITHMS: Readonly<Record<AlgorithmName, Algorithm>> = {
  token_bucket: tokenBucket,
  gcra,
  fixed_window: fixedWindow,
  sliding_window: slidingWindow,
  concurrency,
};

/** How many numbers each algorithm's state holds (the memory store's slot width). */
export const STATE_WIDTH: Readonly<Record<AlgorithmName, number>> = {
  token_bucket: 2,
  gcra: 1,
  fixed_window: 2,
  sliding_window: 3,
  concurrency: 1,
};
