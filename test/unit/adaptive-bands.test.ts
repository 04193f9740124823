import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_BANDS, bandIndexOf, checkBands, nextBand, type BandSpec, type BandState } from '../../src/adaptive/bands.js';

const opts = { margin: 5, holdMs: 30_000 };

/** Feeds [time, score] pairs through nextBand from `start`; returns every state, in order. */
function run(start: BandState | undefined, timeline: [number, number][], options = opts): BandState[] {
  const states: BandState[] = [];
  let state = start;
  for (const [at, score] of timeline) {
    state = nextBand(DEFAULT_BANDS, state, score, at, options);
    states.push(state);
  }
  return states;
}

const bandsOf = (states: BandState[]) => states.map((s) => s.band);

test('raw bands: each bound belongs to the band above it', () => {
  const names = [0, 19, 20, 59, 60, 84, 85, 100].map((s) => DEFAULT_BANDS[bandIndexOf(DEFAULT_BANDS, s)]?.name);
  assert.deepEqual(names, ['trusted', 'trusted', 'normal', 'normal', 'suspicious', 'suspicious', 'blocked', 'blocked']);
  assert.equal(bandIndexOf(DEFAULT_BANDS, 55, 5), 2, '55 is not below 60 - 5');
  assert.equal(bandIndexOf(DEFAULT_BANDS, 54, 5), 1);
});

test('a new client starts in the band of its first score', () => {
  assert.deepEqual(nextBand(DEFAULT_BANDS, undefined, 10, 0, opts), { band: 'trusted' });
  assert.deepEqual(nextBand(DEFAULT_BANDS, undefined, 70, 0, opts), { band: 'suspicious' });
  assert.deepEqual(nextBand(DEFAULT_BANDS, undefined, 50, 0), { band: 'normal' }, 'options default');
});

test('escalation is immediate, with no margin', () => {
  assert.deepEqual(run({ band: 'normal' }, [[1000, 59], [1001, 60]]), [{ band: 'normal' }, { band: 'suspicious' }]);
  assert.deepEqual(nextBand(DEFAULT_BANDS, { band: 'trusted' }, 20, 0, opts), { band: 'normal' });
});

test('a client can jump from normal straight to blocked, cancelling any hold', () => {
  assert.deepEqual(nextBand(DEFAULT_BANDS, { band: 'normal' }, 85, 5, opts), { band: 'blocked' });
  const holding: BandState = { band: 'suspicious', pendingBand: 'normal', pendingSince: 0 };
  assert.deepEqual(nextBand(DEFAULT_BANDS, holding, 97, 10_000, opts), { band: 'blocked' });
});

test('de-escalation waits until the score stayed below boundary - margin for holdMs', () => {
  const states = run({ band: 'suspicious' }, [[0, 50], [10_000, 40], [29_999, 54], [30_000, 50]]);
  assert.deepEqual(states[0], { band: 'suspicious', pendingBand: 'normal', pendingSince: 0 });
  assert.deepEqual(bandsOf(states), ['suspicious', 'suspicious', 'suspicious', 'normal']);
  assert.deepEqual(states[3], { band: 'normal' }, 'the hold is cleared on arrival');
});

test('a score in the dead zone below the boundary never de-escalates', () => {
  const timeline: [number, number][] = Array.from({ length: 20 }, (_, i) => [i * 10_000, 55 + (i % 5)]);
  const states = run({ band: 'suspicious' }, timeline);
  assert.ok(states.every((s) => s.band === 'suspicious' && s.pendingBand === undefined));
});

test('a score back above boundary - margin breaks the hold, which then starts again', () => {
  const states = run({ band: 'suspicious' }, [[0, 50], [10_000, 56], [20_000, 50], [45_000, 50], [50_000, 50]]);
  assert.deepEqual(states[1], { band: 'suspicious' });
  assert.deepEqual(states[2], { band: 'suspicious', pendingBand: 'normal', pendingSince: 20_000 });
  assert.deepEqual(bandsOf(states), ['suspicious', 'suspicious', 'suspicious', 'suspicious', 'normal']);
});

test('no flapping: a score hovering around a boundary moves the client once', () => {
  const timeline: [number, number][] = Array.from({ length: 300 }, (_, i) => [i * 1000, i % 2 === 0 ? 58 : 61]);
  const states = run({ band: 'normal' }, timeline);
  const changes = states.filter((s, i) => s.band !== (i === 0 ? 'normal' : states[i - 1]?.band)).length;
  assert.equal(changes, 1);
  assert.equal(states.at(-1)?.band, 'suspicious');
  // Even dipping past the margin every other second never completes a hold.
  const dips = run({ band: 'suspicious' }, Array.from({ length: 300 }, (_, i): [number, number] => [i * 1000, i % 2 === 0 ? 50 : 61]));
  assert.ok(dips.every((s) => s.band === 'suspicious'));
});

test('a low score leaves several bands at once, to the worst band reached during the hold', () => {
  assert.deepEqual(run({ band: 'blocked' }, [[0, 5], [30_000, 5]]).at(-1), { band: 'trusted' });
  const states = run({ band: 'blocked' }, [[0, 10], [10_000, 50], [20_000, 10], [30_000, 10], [45_000, 10], [59_999, 10], [60_000, 10]]);
  assert.deepEqual(states[1], { band: 'blocked', pendingBand: 'normal', pendingSince: 0 }, 'the target worsens, the hold keeps its start');
  assert.deepEqual(states[3], { band: 'normal', pendingBand: 'trusted', pendingSince: 30_000 }, 'the next hold starts on arrival');
  assert.deepEqual(bandsOf(states), ['blocked', 'blocked', 'blocked', 'normal', 'normal', 'normal', 'trusted']);
  assert.deepEqual(states[6], { band: 'trusted' });
});

test('nextBand returns the same state object when nothing changes', () => {
  const steady: BandState = { band: 'normal' };
  assert.equal(nextBand(DEFAULT_BANDS, steady, 40, 0, opts), steady);
  const holding: BandState = { band: 'suspicious', pendingBand: 'normal', pendingSince: 0 };
  assert.equal(nextBand(DEFAULT_BANDS, holding, 30, 1000, opts), holding);
});

test('margin and holdMs are honoured', () => {
  const wide = { margin: 15, holdMs: 1000 };
  assert.deepEqual(bandsOf(run({ band: 'suspicious' }, [[0, 50], [1000, 50]], wide)), ['suspicious', 'suspicious'], '50 is not below 60 - 15');
  assert.deepEqual(bandsOf(run({ band: 'suspicious' }, [[0, 44], [1000, 44]], wide)), ['suspicious', 'normal']);
  assert.deepEqual(nextBand(DEFAULT_BANDS, { band: 'suspicious' }, 50, 0, { margin: 5, holdMs: 0 }), { band: 'normal' }, 'holdMs 0 leaves at once');
});

test('a state naming a band the config no longer has is treated as the worst band', () => {
  const bands: BandSpec[] = [
    { name: 'normal', below: 60 },
    { name: 'blocked', below: Infinity },
  ];
  assert.deepEqual(nextBand(bands, { band: 'suspicious' }, 90, 0, opts), { band: 'suspicious' }, 'no escalation past the worst band');
  assert.deepEqual(bandsOf([nextBand(bands, { band: 'suspicious' }, 10, 0, opts)]), ['suspicious']);
  assert.deepEqual(nextBand(bands, { band: 'suspicious', pendingBand: 'trusted', pendingSince: 0 }, 10, 30_000, opts), {
    band: 'suspicious',
    pendingBand: 'normal',
    pendingSince: 30_000,
  }, 'a hold towards a band that is gone starts again');
});

test('checkBands refuses bad band lists', () => {
  checkBands(DEFAULT_BANDS);
  assert.throws(() => checkBands([]), /at least one band/);
  assert.throws(() => checkBands([{ name: 'normal', below: 60 }, { name: 'suspicious', below: 60 }, { name: 'blocked', below: Infinity }]), /bands\[1\]: "suspicious" below 60 must be greater than "normal" below 60/);
  assert.throws(() => checkBands([{ name: 'normal', below: 60 }, { name: 'blocked', below: 90 }]), /last band must have no upper bound/);
  assert.throws(() => checkBands([{ name: 'normal', below: 60 }, { name: 'normal', below: Infinity }]), /band "normal" appears twice/);
});
