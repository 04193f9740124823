import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveEngine } from '../../src/adaptive/engine.js';
import { buildAdaptive } from '../../src/adaptive/config.js';
import { FeatureTable } from '../../src/adaptive/features.js';
import { RiskModel, type Weights } from '../../src/adaptive/model.js';
import { HISTORY_MAX, LearningDisabledError, compareViews, topK } from '../../src/adaptive/feedback.js';
import { mulberry32 } from '../../src/adaptive/random.js';
import { FEATURE_NAMES, type RequestSignal } from '../../src/adaptive/types.js';
import { loadShippedWeights } from '../../src/adaptive/weights.js';

const T0 = 1_700_000_000_000;
const TEN_MIN = 600_000; // ten half-lives of the table's counts: what came before weighs 1/1024
const HEADERS = { 'user-agent': 'Mozilla/5.0', accept: '*/*', 'accept-language': 'en' };

// One lever: z = -3 + 8 x not_found_share. All 404s: 99 (blocked); all 200s: 5 (trusted).
const WEIGHTS: Weights = { version: 'test', features: FEATURE_NAMES, bias: -3, weights: FEATURE_NAMES.map((f) => (f === 'not_found_share' ? 8 : 0)) };

function engineOf(options: { maxClients?: number; learn?: boolean } = {}): AdaptiveEngine {
  const config = { ...buildAdaptive({ mode: 'enforce', bands: { blocked: { block_for: '10s' } } })!, maxClients: options.maxClients ?? 100, learn: options.learn ?? true };
  return new AdaptiveEngine(config, new RiskModel(WEIGHTS), new FeatureTable({ seed: 7, maxClients: config.maxClients }));
}

const signal = (clientKey: string, at: number, over: Partial<RequestSignal> = {}): RequestSignal => ({
  at, method: 'GET', path: '/x', status: 200, refused: false, bodyBytes: 0, userAgent: 'Mozilla/5.0', hasAccept: true, hasAcceptLanguage: true,
  network: 'ip4:198.51.100.0/24', clientKey, limitRate: 10, ...over,
});

/** `n` requests of one status from a client, 100 ms apart from `at`. */
function feed(engine: AdaptiveEngine, key: string, at: number, status: number, n = 3, over: Partial<RequestSignal> = {}): void {
  for (let i = 0; i < n; i++) engine.observe(signal(key, at + i * 100, { status, ...over }));
}

const assess = (engine: AdaptiveEngine, key: string, now: number, label = `label-of-${key}`) => engine.assess(key, label, now, 'GET', { headers: HEADERS }, '198.51.100.7');
const peek = (engine: AdaptiveEngine, key: string, now: number) => engine.peek(key, now, 'GET', { headers: HEADERS }, '198.51.100.7');

test('a client\'s last assessment and label are kept; each band change is noted with its time and score', () => {
  const engine = engineOf();
  feed(engine, 'k1', T0, 404);
  const a = assess(engine, 'k1', T0 + 1000, 'key:abcdef012345');
  assert.deepEqual([a.score, a.band, a.reason], [99, 'blocked', 'TG_RISK_NOT_FOUND_SCAN']);
  const v = engine.client('k1');
  assert.ok(v !== undefined);
  assert.deepEqual([v.key, v.label, v.score, v.band, v.reason, v.assessedAt, v.requests, v.refused], ['k1', 'key:abcdef012345', 99, 'blocked', 'TG_RISK_NOT_FOUND_SCAN', T0 + 1000, 3, 0]);
  assert.deepEqual(v.top.map((c) => c.feature), ['not_found_share']);
  assert.deepEqual(v.history, [{ at: T0 + 1000, from: 'normal', to: 'blocked', score: 99 }]);
  // Same band again: no new entry.
  assess(engine, 'k1', T0 + 2000);
  assert.equal(engine.client('k1')?.history.length, 1);
  assert.equal(engine.client('nobody'), undefined);
});

test('history keeps the last HISTORY_MAX changes of a flapping client, oldest dropped', () => {
  const engine = engineOf();
  const changes: number[] = [];
  for (let cycle = 0; cycle < 6; cycle++) {
    const at = T0 + cycle * 2 * TEN_MIN;
    feed(engine, 'flap', at, 404);
    assert.equal(assess(engine, 'flap', at + 1000).band, 'blocked');
    changes.push(at + 1000);
    // Ten minutes on (block_for 10 s long over), clean requests: the block is forgotten and the score's band taken at once.
    feed(engine, 'flap', at + TEN_MIN, 200);
    assert.equal(assess(engine, 'flap', at + TEN_MIN + 1000).band, 'trusted');
    changes.push(at + TEN_MIN + 1000);
  }
  const history = engine.client('flap')?.history ?? [];
  assert.equal(HISTORY_MAX, 8);
  assert.equal(history.length, HISTORY_MAX);
  assert.deepEqual(history.map((h) => h.at), changes.slice(-HISTORY_MAX));
  assert.deepEqual(history.slice(-2).map((h) => [h.from, h.to]), [['trusted', 'blocked'], ['blocked', 'trusted']]);
});

test('peek answers what assess would, and changes nothing: no record, no band move, no history', () => {
  const engine = engineOf();
  // Never seen: judged at first sight; a new client starts in normal and leaves it for trusted only after a hold.
  const first = peek(engine, 'new', T0);
  assert.deepEqual([first.score, first.band], [5, 'normal']);
  assert.equal(engine.client('new'), undefined, 'peek made no record');
  assert.deepEqual(engine.bandCounts(), { trusted: 0, normal: 0, suspicious: 0, blocked: 0 });

  feed(engine, 'k', T0, 404);
  const predicted = peek(engine, 'k', T0 + 1000);
  assert.equal(engine.client('k'), undefined);
  assert.deepEqual(assess(engine, 'k', T0 + 1000), predicted);
  // Blocked until T0 + 11 s: peeking later, past the block, with clean traffic, predicts trusted without lifting the block.
  feed(engine, 'k', T0 + TEN_MIN, 200);
  assert.equal(peek(engine, 'k', T0 + TEN_MIN + 1000).band, 'trusted');
  const held = engine.client('k');
  assert.deepEqual([held?.band, held?.history.length, held?.assessedAt], ['blocked', 1, T0 + 1000]);
  assert.equal(peek(engine, 'k', T0 + 5000).band, 'blocked', 'inside block_for: blocked whatever the score');
});

test('clients(): the top by risk, requests or refusals, largest first, at most `limit`', () => {
  const engine = engineOf();
  feed(engine, 'scanner', T0, 404, 5);
  feed(engine, 'busy', T0, 200, 40);
  feed(engine, 'refused', T0, 200, 10, { refused: true });
  feed(engine, 'quiet', T0, 200, 1);
  for (const key of ['scanner', 'busy', 'refused', 'quiet']) assess(engine, key, T0 + 5000);
  assert.deepEqual(engine.clients('risk', 10).map((v) => v.label), ['label-of-scanner', 'label-of-busy', 'label-of-refused', 'label-of-quiet']);
  assert.deepEqual(engine.clients('requests', 2).map((v) => [v.label, v.requests]), [['label-of-busy', 40], ['label-of-refused', 10]]);
  assert.deepEqual(engine.clients('refusals', 1).map((v) => [v.label, v.refused]), [['label-of-refused', 10]]);
  assert.deepEqual(engine.clients('risk', 0), []);
});

test('memory is bounded: at most 2 x maxClients records, the most recently assessed always held', () => {
  const engine = engineOf({ maxClients: 4 });
  for (let i = 0; i < 50; i++) {
    feed(engine, `c${i}`, T0 + i * 1000, i % 2 === 0 ? 404 : 200, 1);
    assess(engine, `c${i}`, T0 + i * 1000 + 500);
  }
  const held = Object.values(engine.bandCounts()).reduce((a, b) => a + b, 0);
  assert.ok(held >= 4 && held <= 8, `held ${held}`);
  assert.equal(engine.clients('risk', 1000).length, held);
  for (let i = 46; i < 50; i++) assert.ok(engine.client(`c${i}`) !== undefined, `c${i} held`);
  assert.equal(engine.client('c0'), undefined, 'the first forgotten');
  assert.ok(engine.trackedClients <= 4, `the feature table is bounded too: ${engine.trackedClients}`);
});

test('learn: bad raises the client\'s score, good lowers it, each a new weights version; unseen: undefined; learn: false refuses', () => {
  const engine = engineOf();
  feed(engine, 'half', T0, 404, 2);
  feed(engine, 'half', T0 + 200, 200, 2);
  const bad = engine.learn('half', 'bad', T0 + 1000);
  assert.ok(bad !== undefined && bad.after > bad.before, JSON.stringify(bad));
  assert.equal(bad.version, 'test+1');
  const share = bad.features[FEATURE_NAMES.indexOf('not_found_share')] as number;
  assert.ok(Math.abs(share - 0.5) < 0.01, `learned on the client's features: not_found_share ${share}`);
  const good = engine.learn('half', 'good', T0 + 2000);
  assert.ok(good !== undefined && good.after < good.before, JSON.stringify(good));
  assert.equal(good.version, 'test+2');
  assert.equal(engine.learn('unseen', 'bad', T0), undefined);
  assert.throws(() => engineOf({ learn: false }).learn('half', 'bad', T0), LearningDisabledError);
});

test('topK gives the first k of a full sort, for any k', () => {
  const random = mulberry32(17);
  const items = Array.from({ length: 500 }, (_, i) => ({ label: `c${i}`, score: Math.floor(random() * 100), requests: Math.floor(random() * 10), refused: 0 }));
  const compare = compareViews('risk');
  const sorted = [...items].sort(compare);
  for (const k of [0, 1, 7, 50, 499, 500, 900]) assert.deepEqual(topK(items, k, compare), sorted.slice(0, k), `k = ${k}`);
});

test('a penalised client that turns normal recovers: with the shipped weights, a 404-probing script back to clean requests leaves suspicious within two minutes', () => {
  const config = { ...buildAdaptive({ mode: 'enforce' })!, maxClients: 100 };
  const engine = new AdaptiveEngine(config, new RiskModel(loadShippedWeights()), new FeatureTable({ seed: 7, maxClients: 100 }));
  // curl (an automation agent, with Accept, no Accept-Language) probing unknown paths at 2 requests a second: suspicious, not blocked.
  const script = { userAgent: 'curl/8.4.0', hasAcceptLanguage: false };
  let at = T0;
  let band = '';
  for (let i = 0; i < 20; i++, at += 500) {
    band = engine.assess('s1', 'key:s1', at, 'GET', { headers: { accept: '*/*', 'user-agent': 'curl/8.4.0' } }, '198.51.100.7').band;
    engine.observe(signal('s1', at, { status: 404, ...script }));
  }
  assert.equal(band, 'suspicious', 'probing put it in the suspicious band');
  // The same script, now only on known paths (200s), at the same pace: when does it leave?
  const start = at;
  let recoveredAt = -1;
  for (let i = 0; i < 600 && recoveredAt < 0; i++, at += 500) {
    if (engine.assess('s1', 'key:s1', at, 'GET', { headers: { accept: '*/*', 'user-agent': 'curl/8.4.0' } }, '198.51.100.7').band === 'normal') recoveredAt = at;
    engine.observe(signal('s1', at, { status: 200, ...script }));
  }
  assert.ok(recoveredAt > 0, 'it recovered');
  const seconds = (recoveredAt - start) / 1000;
  // Decay (half-life 60 s) brings the 404 share down; the hysteresis holds 30 s below the boundary.
  assert.ok(seconds >= 30 && seconds <= 120, `recovered after ${seconds} s`);
});
