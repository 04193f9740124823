import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, openSync, readFileSync, readSync, readdirSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AdaptiveEngine } from '../../src/adaptive/engine.js';
import { AdaptiveHolder } from '../../src/adaptive/holder.js';
import { buildAdaptive } from '../../src/adaptive/config.js';
import { FeatureTable } from '../../src/adaptive/features.js';
import { DEFAULT_LEARNING, RiskModel, parseWeights, type Weights } from '../../src/adaptive/model.js';
import { loadShippedWeights } from '../../src/adaptive/weights.js';
import { FileWeightsStore } from '../../src/adaptive/weights-file.js';
import { SharedWeights, type SyncLogger } from '../../src/adaptive/weights-sync.js';
import { WeightsStoreError, baseVersion, type StoredWeights, type WeightsStore } from '../../src/adaptive/weights-store.js';
import { FEATURE_NAMES, type RequestSignal } from '../../src/adaptive/types.js';
import { Registry } from 'prom-client';

/**
 * Learned weights kept in a store (issue 17, "Model"): the file store's
 * round trip, compare-and-set and atomic replace; SharedWeights' retries;
 * engines sharing one store converge and share one drift window; stored
 * weights of another shipped model are not used.
 */
const T0 = 1_700_000_000_000;
const W: Weights = { version: 'test', features: FEATURE_NAMES, bias: -3, weights: FEATURE_NAMES.map((f) => (f === 'not_found_share' ? 8 : 0)) };
const at = (version: string, bias = -3): StoredWeights => ({ ...W, version, bias });

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'tg-weights-'));
}

function logs(): SyncLogger & { lines: { level: string; msg: string; fields: object }[] } {
  const lines: { level: string; msg: string; fields: object }[] = [];
  return { lines, info: (fields, msg) => lines.push({ level: 'info', msg, fields }), warn: (fields, msg) => lines.push({ level: 'warn', msg, fields }) };
}

test('file store: what is saved loads back, drift window included; no file: undefined', async () => {
  const store = new FileWeightsStore(join(dir(), 'weights.json'));
  assert.equal(await store.load(), undefined);
  const saved: StoredWeights = { ...at('test+1', -2.5), window: { hour: 472_222, bias: -3, weights: W.weights } };
  assert.equal(await store.saveIf(undefined, saved), true);
  assert.deepEqual(await store.load(), saved);
  assert.equal(JSON.parse(readFileSync(store.path, 'utf8')).meta.window.hour, 472_222, 'a weights file, the window under meta');
  assert.equal(new RiskModel(parseWeights(readFileSync(store.path, 'utf8'), store.path)).weights.version, 'test+1', 'a stored copy is a valid weights file');
});

test('file store: compare-and-set refuses a stale version and keeps the newer weights', async () => {
  const store = new FileWeightsStore(join(dir(), 'weights.json'));
  assert.equal(await store.saveIf(undefined, at('test+1')), true);
  assert.equal(await store.saveIf(undefined, at('test+1', 9)), false, 'something is stored now');
  assert.equal(await store.saveIf('test+1', at('test+2', -2)), true);
  assert.equal(await store.saveIf('test+1', at('test+2', 7)), false, 'stale: test+2 was saved since');
  assert.deepEqual([(await store.load())?.version, (await store.load())?.bias], ['test+2', -2]);
  // Two saves from one version at once: one wins (saves are serialised in the process).
  const both = await Promise.all([store.saveIf('test+2', at('test+3', 1)), store.saveIf('test+2', at('test+3', 2))]);
  assert.deepEqual(both.sort(), [false, true]);
});

test('file store: a save replaces the file whole by rename (a reader holds the old one entire), leaving no temporary file', async () => {
  const d = dir();
  const store = new FileWeightsStore(join(d, 'weights.json'));
  await store.saveIf(undefined, at('test+1'));
  const before = readFileSync(store.path, 'utf8');
  const inode = statSync(store.path).ino;
  const reader = openSync(store.path, 'r');
  await store.saveIf('test+1', at('test+2', -1));
  assert.notEqual(statSync(store.path).ino, inode, 'a new file renamed over the old, not the old one rewritten');
  const buf = Buffer.alloc(before.length + 16);
  const n = readSync(reader, buf, 0, buf.length, 0);
  closeSync(reader);
  assert.equal(buf.subarray(0, n).toString('utf8'), before, 'the old file is intact for whoever had it open');
  assert.deepEqual(readdirSync(d), ['weights.json']);
  // A writer that died mid-write leaves only its hidden temporary file: the weights file is untouched by it.
  writeFileSync(join(d, '.weights.json.999.dead.tmp'), '{"version":"te');
  assert.equal((await store.load())?.version, 'test+2');
  // A save that cannot write (its directory is gone) fails and leaves nothing.
  const lost = new FileWeightsStore(join(d, 'missing', 'weights.json'));
  await assert.rejects(lost.saveIf(undefined, at('test+1')), /ENOENT/);
});

test('file store: a file that is not weights is refused by load and never overwritten by a save', async () => {
  const store = new FileWeightsStore(join(dir(), 'weights.json'));
  writeFileSync(store.path, '{"version":"test+1","features":["other"],"bias":0,"weights":[0]}');
  await assert.rejects(store.load(), /features differ/);
  await assert.rejects(store.saveIf(undefined, at('test+1')), /features differ/);
  assert.match(readFileSync(store.path, 'utf8'), /"other"/);
});

test('baseVersion: the shipped version learned weights started from', () => {
  assert.deepEqual(['risk-v1+7', 'risk-v1', 'a+b+3', 'x+'].map(baseVersion), ['risk-v1', 'risk-v1', 'a+b', 'x+']);
});

/** A store in memory whose compare-and-sets lose the first `losses` times (another writer saves the next version each time). */
function racyStore(losses: number): WeightsStore & { saves: number } {
  let stored: StoredWeights | undefined;
  let n = 0;
  return {
    get saves() {
      return n;
    },
    load: async () => stored,
    saveIf: async (expected, next) => {
      n++;
      if (n <= losses) {
        stored = at(`test+${100 + n}`);
        return false;
      }
      if (stored?.version !== expected) return false;
      stored = next;
      return true;
    },
    close: async () => {},
  };
}

test('SharedWeights.update: a lost race is retried from the newer weights up to 3 times, then refused as WeightsStoreError', async () => {
  const step = (s: StoredWeights | undefined) => at(`${s?.version ?? 'test'}-next`);
  const three = racyStore(3);
  const saved = await new SharedWeights(three, 'test', logs(), 'mem').update(step);
  assert.deepEqual([saved.version, three.saves], ['test+103-next', 4], 'the fourth try, from the latest');
  const four = racyStore(4);
  await assert.rejects(new SharedWeights(four, 'test', logs(), 'mem').update(step), (err: Error) => err instanceof WeightsStoreError && /4 times/.test(err.message));
  assert.equal(four.saves, 4);
  const down: WeightsStore = { load: () => Promise.reject(new Error('ECONNREFUSED')), saveIf: async () => true, close: async () => {} };
  await assert.rejects(new SharedWeights(down, 'test', logs(), 'mem').update(step), (err: Error) => err instanceof WeightsStoreError && /ECONNREFUSED/.test(err.message));
});

test('SharedWeights.poll: a store that fails is logged once per episode, its recovery once; the weights in use are kept meanwhile', async () => {
  let up = false;
  const store: WeightsStore = { load: () => (up ? Promise.resolve(at('test+4')) : Promise.reject(new Error('down'))), saveIf: async () => true, close: async () => {} };
  const log = logs();
  const adopted: string[] = [];
  const shared = new SharedWeights(store, 'test', log, 'mem', { pollMs: 3_600_000 });
  shared.start((w) => adopted.push(w.version));
  for (let i = 0; i < 3; i++) await shared.poll();
  assert.deepEqual(log.lines.map((l) => l.level), ['warn']);
  assert.deepEqual(adopted, []);
  up = true;
  await shared.poll();
  await shared.poll();
  assert.deepEqual(log.lines.map((l) => l.msg).slice(1), ['adaptive: reading the learned weights again', 'adaptive: scoring with the learned weights stored']);
  assert.deepEqual(adopted, ['test+4', 'test+4'], 'the engine ignores a version it already has');
  await shared.close();
});

const signal = (clientKey: string, t: number, status: number): RequestSignal => ({
  at: t, method: 'GET', path: '/x', status, refused: false, bodyBytes: 0, userAgent: 'Mozilla/5.0', hasAccept: true, hasAcceptLanguage: true,
  network: 'ip4:198.51.100.0/24', clientKey, limitRate: 10,
});

/** An engine on `W` sharing weights through the file at `path`, with a half-404 client `half` observed. */
function sharingEngine(t: TestContext, path: string): { engine: AdaptiveEngine; shared: SharedWeights } {
  const config = buildAdaptive({ mode: 'shadow' })!;
  const engine = new AdaptiveEngine(config, new RiskModel(W), new FeatureTable({ seed: 7, maxClients: 100 }));
  for (let i = 0; i < 4; i++) engine.observe(signal('half', T0 + i * 100, i % 2 === 0 ? 404 : 200));
  const shared = new SharedWeights(new FileWeightsStore(path), 'test', logs(), path, { pollMs: 3_600_000 });
  engine.share(shared);
  t.after(() => shared.close());
  return { engine, shared };
}

test('engines sharing a store: a label learned on A is saved, B adopts it at its next poll and learns on from it', async (t) => {
  const path = join(dir(), 'weights.json');
  const a = sharingEngine(t, path);
  const b = sharingEngine(t, path);
  const learned = await a.engine.learnShared('half', 'bad', T0 + 1000);
  assert.ok(learned !== undefined && learned.after > learned.before);
  assert.deepEqual([learned.version, a.engine.model.weights.version, b.engine.model.weights.version], ['test+1', 'test+1', 'test']);
  await b.shared.poll();
  assert.equal(b.engine.model.weights.version, 'test+1');
  assert.deepEqual(b.engine.model.weights, a.engine.model.weights);
  const next = await b.engine.learnShared('half', 'bad', T0 + 2000);
  assert.equal(next?.version, 'test+2');
  assert.equal(next?.before, learned.after, 'B stepped from A\'s weights');
  assert.equal((await new FileWeightsStore(path).load())?.version, 'test+2');
});

test('the per-hour drift cap holds across instances: labels sent to A and B in turn move no weight past it within one hour', async (t) => {
  const path = join(dir(), 'weights.json');
  const a = sharingEngine(t, path);
  const b = sharingEngine(t, path);
  // 120 steps would move the bias about 0.9 uncapped; each swap between A and B would open a new window if the instances kept it.
  for (let i = 0; i < 120; i++) await (i % 2 === 0 ? a : b).engine.learnShared('half', 'bad', T0 + 1000 + i);
  const stored = (await new FileWeightsStore(path).load()) as StoredWeights;
  assert.equal(stored.version, 'test+120');
  const cap = DEFAULT_LEARNING.maxDriftPerHour;
  assert.ok(Math.abs(stored.bias - W.bias - cap) < 1e-9, `bias moved by ${stored.bias - W.bias}, the cap is ${cap}`);
  stored.weights.forEach((w, i) => assert.ok(Math.abs(w - (W.weights[i] as number)) <= cap + 1e-9, `${FEATURE_NAMES[i]} moved by ${w - (W.weights[i] as number)}`));
  // The next hour opens a new window at the weights it starts from.
  await a.engine.learnShared('half', 'bad', T0 + 3_600_000);
  const later = (await new FileWeightsStore(path).load()) as StoredWeights;
  assert.ok(later.bias > W.bias + cap, `learning resumes in the next hour: bias moved by ${later.bias - W.bias}`);
  assert.equal(later.window?.hour, Math.floor((T0 + 3_600_000) / 3_600_000));
});

test('stored weights learned from another shipped model are not used: the shipped ones score (logged why), and the next label overwrites them', async (t) => {
  const shipped = loadShippedWeights();
  const d = dir();
  const old = { ...shipped, version: 'risk-v0+5', bias: shipped.bias + 3 };
  assert.equal(await new FileWeightsStore(join(d, 'w.json')).saveIf(undefined, old), true);
  const log = logs();
  const holder = new AdaptiveHolder(new Registry(), { baseDir: d, logger: log, sync: { pollMs: 3_600_000 } });
  const engine = holder.engineFor(buildAdaptive({ weights_file: 'w.json' }))!;
  t.after(() => holder.close());
  await holder.whenReady();
  assert.equal(engine.model.weights.version, shipped.version);
  assert.equal(engine.model.weights.bias, shipped.bias);
  const why = log.lines.find((l) => l.level === 'warn');
  assert.match(why?.msg ?? '', /learned from another shipped model/);
  assert.deepEqual(why?.fields, { store: join(d, 'w.json'), stored_version: 'risk-v0+5', shipped_version: shipped.version });

  engine.observe({ ...signal('k', T0, 404), userAgent: undefined });
  const learned = await engine.learnShared('k', 'bad', T0 + 100);
  assert.equal(learned?.version, `${shipped.version}+1`);
  assert.equal((await new FileWeightsStore(join(d, 'w.json')).load())?.version, `${shipped.version}+1`);
});

test('a holder restarted on the same weights_file scores with what was learned', async (t) => {
  const d = dir();
  const shipped = loadShippedWeights();
  const first = new AdaptiveHolder(new Registry(), { baseDir: d, sync: { pollMs: 3_600_000 } });
  const engine = first.engineFor(buildAdaptive({ weights_file: 'w.json' }))!;
  engine.observe({ ...signal('k', T0, 404), userAgent: undefined });
  await engine.learnShared('k', 'bad', T0 + 100);
  await first.close();
  const second = new AdaptiveHolder(new Registry(), { baseDir: d, sync: { pollMs: 3_600_000 } });
  t.after(() => second.close());
  const again = second.engineFor(buildAdaptive({ weights_file: 'w.json' }))!;
  await second.whenReady();
  assert.deepEqual(again.model.weights, engine.model.weights);
  assert.equal(again.model.weights.version, `${shipped.version}+1`);
});
