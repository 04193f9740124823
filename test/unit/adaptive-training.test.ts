import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classReport, train } from '../../src/adaptive/training.js';
import { DEFAULT_MIX } from '../../src/adaptive/traffic/index.js';
import { RiskModel } from '../../src/adaptive/model.js';
import { loadShippedWeights } from '../../src/adaptive/weights.js';

test('npm run train reproduces the shipped weights exactly (the file is not stale against the code that fits it)', () => {
  const shipped = loadShippedWeights();
  const fresh = train(DEFAULT_MIX, shipped.version).weights;
  assert.deepEqual(fresh.features, shipped.features);
  const round = (n: number): number => Math.round(n * 1e6) / 1e6;
  assert.equal(round(fresh.bias), shipped.bias);
  assert.deepEqual(fresh.weights.map(round), shipped.weights, 'run `npm run train` and commit models/risk-v1.json');
});

test('the shipped model on the generator, seeds 1-5 (none of them trained on): stuffers and scanners acted on early, no legitimate client blocked', () => {
  const model = new RiskModel(loadShippedWeights());
  for (const seed of [1, 2, 3, 4, 5]) {
    const report = classReport(DEFAULT_MIX, seed, 60_000, (x) => model.score(x).score);
    const at = (cls: string) => report[cls] ?? assert.fail(`no ${cls} clients in seed ${seed}`);
    for (const bad of ['stuffer', 'scanner']) {
      assert.ok(at(bad).acted >= 0.95, `seed ${seed}: ${bad} acted on ${at(bad).acted}`);
      assert.ok(at(bad).medianRequestsToAct <= 20, `seed ${seed}: ${bad} acted on after ${at(bad).medianRequestsToAct} requests (median)`);
    }
    for (const good of ['browser', 'mobile', 'batch']) assert.equal(at(good).blocked, 0, `seed ${seed}: a ${good} client was blocked`);
    assert.equal(at('browser').acted, 0, `seed ${seed}: a browser reached the suspicious band`);
    assert.equal(at('batch').acted, 0, `seed ${seed}: the batch job reached the suspicious band`);
  }
});
