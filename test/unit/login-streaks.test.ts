import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginStreaks, loginOutcome } from '../../src/adaptive/login-streaks.js';

test('login outcomes: 401 and 403 fail, 2xx and 3xx succeed, anything else says nothing', () => {
  assert.deepEqual([401, 403].map(loginOutcome), ['failed', 'failed']);
  assert.deepEqual([200, 204, 302].map(loginOutcome), ['succeeded', 'succeeded', 'succeeded']);
  assert.deepEqual([404, 429, 500, 503, 400].map(loginOutcome), ['neither', 'neither', 'neither', 'neither', 'neither']);
});

test('five failures in a row label once; the streak then starts again', () => {
  const streaks = new LoginStreaks(5, 100);
  const labels = Array.from({ length: 12 }, () => streaks.note('k1', 401));
  assert.deepEqual(labels.map((l, i) => (l ? i + 1 : 0)).filter(Boolean), [5, 10]);
  assert.equal(streaks.streak('k1'), 2);
});

test('a success ends the streak; a 404 or a 429 between failures neither ends nor extends it', () => {
  const streaks = new LoginStreaks(3, 100);
  assert.equal(streaks.note('k', 401), false);
  assert.equal(streaks.note('k', 401), false);
  assert.equal(streaks.note('k', 200), false);
  assert.equal(streaks.streak('k'), 0);
  assert.equal(streaks.note('k', 403), false);
  assert.equal(streaks.note('k', 429), false);
  assert.equal(streaks.note('k', 404), false);
  assert.equal(streaks.note('k', 401), false);
  assert.equal(streaks.streak('k'), 2);
  assert.equal(streaks.note('k', 401), true);
});

test('clients are counted apart', () => {
  const streaks = new LoginStreaks(2, 100);
  assert.equal(streaks.note('a', 401), false);
  assert.equal(streaks.note('b', 401), false);
  assert.equal(streaks.note('a', 401), true);
  assert.equal(streaks.streak('b'), 1);
});

test('bounded: at most two generations of max clients; a recent client keeps its streak across a turnover', () => {
  const streaks = new LoginStreaks(3, 10);
  streaks.note('keep', 401);
  for (let i = 0; i < 1000; i++) {
    streaks.note(`spray-${i}`, 401);
    if (i % 5 === 0) streaks.note('keep', 404); // neither: no write, so 'keep' ages like the rest
  }
  assert.ok(streaks.size <= 20, `size ${streaks.size}`);
  assert.equal(streaks.streak('keep'), 0, 'an old streak is forgotten');
  streaks.note('keep', 401);
  for (let i = 0; i < 9; i++) streaks.note(`more-${i}`, 401);
  assert.equal(streaks.streak('keep'), 1, 'moved into the previous generation, still read');
  assert.equal(streaks.note('keep', 401), false);
  assert.equal(streaks.note('keep', 401), true);
});

test('a threshold below 1 is refused', () => {
  assert.throws(() => new LoginStreaks(0, 10), RangeError);
});
