import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_LEARNING, RiskModel, parseWeights, sigmoid, type Weights } from '../../src/adaptive/model.js';
import { evaluate, fitLogistic, type TrainingRow } from '../../src/adaptive/train.js';
import { mulberry32, shuffle } from '../../src/adaptive/random.js';
import { GENERIC_REASON, REASONS, REASON_CODES, reasonOf } from '../../src/adaptive/reasons.js';
import { FEATURE_COUNT, FEATURE_NAMES } from '../../src/adaptive/types.js';

const HOUR = 3_600_000;

/** Weights with the given bias and the named features' weights (others 0). */
function weightsOf(bias: number, named: Partial<Record<(typeof FEATURE_NAMES)[number], number>> = {}, version = 'v1'): Weights {
  return { version, features: FEATURE_NAMES, bias, weights: FEATURE_NAMES.map((f) => named[f] ?? 0) };
}

/** A feature vector with the named features set (others 0). */
function vec(named: Partial<Record<(typeof FEATURE_NAMES)[number], number>>): Float64Array {
  return Float64Array.from(FEATURE_NAMES.map((f) => named[f] ?? 0));
}

test('score is round(100 * sigmoid(bias + w.x)), hand-computed', () => {
  assert.equal(new RiskModel(weightsOf(0)).score(vec({})).score, 50, 'sigmoid(0) = 0.5');
  const model = new RiskModel(weightsOf(-2, { pressure: 1, refused_share: 2 }));
  // z = -2 + 1*0.5 + 2*0.5 = -0.5; 1 / (1 + e^0.5) = 0.37754 -> 38
  assert.equal(model.score(vec({ pressure: 0.5, refused_share: 0.5 })).score, 38);
  // z = -2 + 1 + 2 = 1; 1 / (1 + e^-1) = 0.73106 -> 73
  assert.equal(model.score(vec({ pressure: 1, refused_share: 1 })).score, 73);
  assert.equal(new RiskModel(weightsOf(-800)).score(vec({})).score, 0, 'a huge negative logit does not overflow');
  assert.equal(new RiskModel(weightsOf(800)).score(vec({})).score, 100);
  assert.equal(sigmoid(-800) >= 0 && sigmoid(800) <= 1, true);
});

test('top holds the three largest positive contributions, largest first', () => {
  const model = new RiskModel(
    weightsOf(0, { pressure: 0.9, refused_share: 0.6, auth_fail_share: 1.2, not_found_share: 1, key_churn: -3, bot_agent: 0.1 }),
  );
  const { top } = model.score(vec({ pressure: 1, refused_share: 0.5, auth_fail_share: 1, not_found_share: 0.5, key_churn: 1, bot_agent: 1 }));
  assert.deepEqual(
    top.map((c) => [c.feature, c.value, c.contribution]),
    [
      ['auth_fail_share', 1, 1.2],
      ['pressure', 1, 0.9],
      ['not_found_share', 0.5, 0.5],
    ],
  );
});

test('top is shorter when fewer features push the score up; ties keep feature order', () => {
  const model = new RiskModel(weightsOf(1, { pressure: 1, path_spread: 1, regularity: -1 }));
  assert.deepEqual(model.score(vec({ regularity: 1 })).top, [], 'negative and zero contributions are never reasons');
  const { top } = model.score(vec({ pressure: 0.5, path_spread: 0.5, regularity: 1 }));
  assert.deepEqual(top.map((c) => c.feature), ['pressure', 'path_spread']);
});

test('score refuses a vector of the wrong length', () => {
  assert.throws(() => new RiskModel(weightsOf(0)).score(new Float64Array(3)), /3 values, the model expects 14/);
});

test('the constructor refuses weights for another feature list', () => {
  const swapped: string[] = [FEATURE_NAMES[1], FEATURE_NAMES[0], ...FEATURE_NAMES.slice(2)];
  assert.throws(() => new RiskModel({ ...weightsOf(0), features: swapped }), /weights: features differ from this build's at index 0: file has "refused_share", expected "pressure"/);
  assert.throws(() => new RiskModel({ ...weightsOf(0), weights: [1, 2] }), /weights has 2 values, features has 14/);
});

test('parseWeights accepts a valid file and round-trips a model', () => {
  const text = JSON.stringify({ ...weightsOf(-1, { pressure: 2 }, 'shipped-1'), meta: { seed: 7 } });
  const parsed = parseWeights(text, 'weights.json');
  assert.equal(parsed.version, 'shipped-1');
  assert.equal(parsed.bias, -1);
  assert.equal(parsed.weights[0], 2);
  assert.equal('meta' in parsed, false, 'meta is accepted and dropped');
  const again = parseWeights(JSON.stringify(new RiskModel(parsed).weights), 'store');
  assert.deepEqual(again, parsed);
});

test('parseWeights names the source and the field in each error', () => {
  const good = weightsOf(0);
  const cases: [string, RegExp][] = [
    ['{"version": ', /^Error: w\.json: not valid JSON \(/],
    ['[]', /w\.json: must be a JSON object/],
    [JSON.stringify({ ...good, extra: 1 }), /w\.json: unknown field "extra"/],
    [JSON.stringify({ ...good, version: '' }), /w\.json: version must be a non-empty string/],
    [JSON.stringify({ ...good, features: FEATURE_NAMES.slice(0, 13), weights: good.weights.slice(0, 13) }), /index 13: file has null, expected "key_churn" \(file lists 13 features, this build 14/],
    [JSON.stringify({ ...good, features: [...FEATURE_NAMES, 'new_one'] }), /index 14: file has "new_one", expected null/],
    [JSON.stringify({ ...good, bias: 'x' }), /w\.json: bias must be a finite number/],
    [JSON.stringify({ ...good, weights: good.weights.slice(1) }), /w\.json: weights has 13 values, features has 14/],
    [JSON.stringify({ ...good, weights: [...good.weights.slice(1), '1'] }), /w\.json: weights\[13\] must be a finite number/],
  ];
  for (const [text, pattern] of cases) assert.throws(() => parseWeights(text, 'w.json'), (err: Error) => pattern.test(String(err)), text);
});

test('learn moves the score towards the label and counts updates in the version', () => {
  const model = new RiskModel(weightsOf(0), { rate: 0.5, maxDriftPerHour: 10 });
  const x = vec({ auth_fail_share: 1, no_accept_language: 1 });
  const bad = model.learn(x, 'bad', 0);
  assert.equal(bad.before, 50);
  assert.ok(bad.after > bad.before, `bad raises the score (${bad.before} -> ${bad.after})`);
  assert.equal(model.score(vec({ pressure: 1 })).score > 50, true, 'the bias moved too');
  const good = model.learn(x, 'good', 1);
  assert.equal(good.before, bad.after);
  assert.ok(good.after < good.before, 'good lowers it');
  assert.equal(model.weights.version, 'v1+2');
  // A model restored from learned weights keeps counting from them.
  const restored = new RiskModel(model.weights);
  restored.learn(x, 'bad', 2);
  assert.equal(restored.weights.version, 'v1+3');
  assert.equal(new RiskModel(weightsOf(0)).weights.version, 'v1');
  assert.equal(DEFAULT_LEARNING.rate, 0.05);
});

test('learning drift is capped within an hour and allowed again in the next', () => {
  const model = new RiskModel(weightsOf(0.25, { key_churn: 1 }), { rate: 1, maxDriftPerHour: 0.5 });
  const x = vec({ key_churn: 1 });
  const start = 5 * HOUR + 10;
  for (let i = 0; i < 50; i++) model.learn(x, 'bad', start + i * 1000);
  assert.equal(model.weights.weights[FEATURE_NAMES.indexOf('key_churn')], 1.5, 'weight capped at shipped + 0.5');
  assert.equal(model.weights.bias, 0.75, 'bias capped too');
  assert.equal(model.weights.weights[0], 0, 'a feature at 0 does not move');
  model.learn(x, 'bad', 6 * HOUR - 1);
  assert.equal(model.weights.bias, 0.75, 'still the same hour');
  for (let i = 0; i < 50; i++) model.learn(x, 'bad', 6 * HOUR + i);
  assert.equal(model.weights.weights[FEATURE_NAMES.indexOf('key_churn')], 2, 'the next hour allows another 0.5');
  assert.equal(model.weights.bias, 1.25);
  model.learn(x, 'good', 6 * HOUR + 100);
  assert.ok(model.weights.bias < 1.25, 'moving back towards the anchor is allowed');
  // A clock that steps back to an earlier hour does not reopen a window.
  for (let i = 0; i < 50; i++) model.learn(x, 'good', 5 * HOUR);
  assert.equal(model.weights.bias, 0.25, 'capped at the current window start (0.75) - 0.5');
});

/** A seeded separable dataset: bad when auth failures and 404s together exceed 1, with a gap around it. */
function dataset(seed: number, n: number): TrainingRow[] {
  const random = mulberry32(seed);
  const rows: TrainingRow[] = [];
  while (rows.length < n) {
    const x = new Float64Array(FEATURE_COUNT).map(() => random());
    const s = (x[2] as number) + (x[3] as number);
    if (Math.abs(s - 1) < 0.1) continue;
    rows.push({ x, y: s > 1 ? 1 : 0 });
  }
  return rows;
}

test('fitLogistic separates a separable dataset and is deterministic for a seed', () => {
  const train = dataset(1, 400);
  const options = { epochs: 150, learningRate: 0.5, l2: 0, seed: 42 };
  const fitted = fitLogistic(train, options);
  const held = evaluate(dataset(2, 400), fitted, 50);
  assert.ok(held.accuracy > 0.95, `held-out accuracy ${held.accuracy}`);
  assert.ok(held.precision > 0.9 && held.recall > 0.9, `precision ${held.precision}, recall ${held.recall}`);
  assert.ok((fitted.weights[2] as number) > 1 && (fitted.weights[3] as number) > 1, 'the two deciding features carry the weight');
  assert.deepEqual(fitLogistic(train, options), fitted, 'same seed, identical weights');
  assert.notDeepEqual(fitLogistic(train, { ...options, seed: 43 }), fitted, 'another seed shuffles differently');
  const full = fitLogistic(train, { ...options, batchSize: train.length });
  assert.ok(evaluate(train, full, 50).accuracy > 0.9, 'full-batch descent works too');
  // The fitted weights load as a model.
  assert.equal(new RiskModel({ version: 't', features: FEATURE_NAMES, ...fitted }).score(train[0]?.x as Float64Array).score >= 0, true);
});

test('fitLogistic with l2 shrinks the weights', () => {
  const train = dataset(3, 200);
  const norm = (w: number[]) => w.reduce((s, v) => s + v * v, 0);
  const plain = fitLogistic(train, { epochs: 50, learningRate: 0.5, l2: 0, seed: 1 });
  const shrunk = fitLogistic(train, { epochs: 50, learningRate: 0.5, l2: 0.05, seed: 1 });
  assert.ok(norm(shrunk.weights) < norm(plain.weights));
  assert.throws(() => fitLogistic([], { epochs: 1, learningRate: 1, l2: 0, seed: 1 }), /no rows/);
  assert.throws(() => fitLogistic([{ x: new Float64Array(2), y: 0 }, { x: new Float64Array(3), y: 1 }], { epochs: 1, learningRate: 1, l2: 0, seed: 1 }), /row 1 has 3 features/);
});

test('evaluate counts by score threshold, hand-computed', () => {
  const weights = { bias: -5, weights: [10] };
  const row = (v: number, y: 0 | 1): TrainingRow => ({ x: Float64Array.of(v), y });
  // x = 1 scores 99 (bad), x = 0 scores 1 (good)
  const rows = [row(1, 1), row(1, 0), row(0, 1), row(0, 0), row(1, 1)];
  const r = evaluate(rows, weights, 60);
  assert.deepEqual([r.truePositives, r.falsePositives, r.falseNegatives, r.trueNegatives], [2, 1, 1, 1]);
  assert.equal(r.precision, 2 / 3);
  assert.equal(r.recall, 2 / 3);
  assert.equal(r.accuracy, 3 / 5);
  const none = evaluate([row(0, 0)], weights, 60);
  assert.deepEqual([none.precision, none.recall, none.accuracy], [1, 1, 1], 'no alarms and nothing to find');
  assert.throws(() => evaluate([{ x: new Float64Array(2), y: 0 }], weights, 50), /row 0 has 2 features, the weights 1/);
});

test('mulberry32 is the reference generator and shuffle is seeded', () => {
  const r = mulberry32(42);
  assert.deepEqual([r(), r(), r()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  const a = mulberry32(7);
  const b = mulberry32(7);
  for (let i = 0; i < 100; i++) {
    const v = a();
    assert.equal(v, b());
    assert.ok(v >= 0 && v < 1);
  }
  const order = shuffle([1, 2, 3, 4, 5, 6, 7, 8], mulberry32(1));
  assert.deepEqual(shuffle([1, 2, 3, 4, 5, 6, 7, 8], mulberry32(1)), order);
  assert.deepEqual([...order].sort(), [1, 2, 3, 4, 5, 6, 7, 8]);
});

test('every feature has a unique, well-formed reason code', () => {
  const codes = FEATURE_NAMES.map((f) => REASONS[f].code);
  for (const f of FEATURE_NAMES) {
    assert.match(REASONS[f].code, /^TG_RISK_[A-Z_]+$/, f);
    assert.ok(REASONS[f].description.length > 10, `${f} has a description`);
  }
  assert.equal(new Set(codes).size, FEATURE_COUNT);
  assert.equal(Object.keys(REASONS).length, FEATURE_COUNT, 'no code for a feature that does not exist');
  assert.deepEqual(REASON_CODES, [...codes, GENERIC_REASON.code]);
  assert.equal(new Set(REASON_CODES).size, REASON_CODES.length);
});

test('reasonOf names the top contribution, or the generic code', () => {
  const model = new RiskModel(weightsOf(0, { auth_fail_share: 3, key_churn: 2 }));
  assert.equal(reasonOf(model.score(vec({ auth_fail_share: 1, key_churn: 1 })).top), 'TG_RISK_AUTH_FAILURES');
  assert.equal(reasonOf(model.score(vec({ auth_fail_share: 0.1, key_churn: 1 })).top), 'TG_RISK_KEY_ROTATION');
  assert.equal(reasonOf([]), 'TG_RISK_SCORE');
});

test('fitLogistic with nonNegative: a feature that only ever lowers risk gets weight 0, never a negative one', () => {
  const random = mulberry32(5);
  const rows: TrainingRow[] = [];
  for (let i = 0; i < 400; i++) {
    const bad = i % 2 === 0;
    // Feature 0 marks bad rows; feature 1 is high on good rows only (a "trust" signal an attacker could fake).
    rows.push({ x: Float64Array.from([bad ? 0.8 + 0.2 * random() : 0.2 * random(), bad ? 0.1 * random() : 0.9]), y: bad ? 1 : 0 });
  }
  const free = fitLogistic(rows, { epochs: 40, learningRate: 0.5, l2: 0, seed: 1 });
  const constrained = fitLogistic(rows, { epochs: 40, learningRate: 0.5, l2: 0, seed: 1, nonNegative: true });
  assert.ok((free.weights[1] as number) < 0, `unconstrained, the trust feature is learned as negative (${free.weights[1]})`);
  assert.equal(constrained.weights[1], 0);
  assert.ok((constrained.weights[0] as number) > 1, 'the risk feature still carries the model');
});
