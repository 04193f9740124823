import { test } from 'node:test';
import assert from 'node:assert/strict';
import { afterFailure, AuthThrottle, failuresLeft, waitMs, type FailureBucket } from '../../src/admin/auth-throttle.js';

const LIMIT = { burst: 3, perMinute: 6 }; // one failure back every 10 s

test('a timeline: the burst is answered, then the address waits for the failures to decay', () => {
  let bucket: FailureBucket | undefined;
  const starts: boolean[] = [];
  for (let i = 0; i < 3; i++) {
    assert.equal(waitMs(bucket, 0, LIMIT), 0, `failure ${i} is looked at`);
    const next = afterFailure(bucket, 0, LIMIT);
    starts.push(next.startsThrottling);
    bucket = next.bucket;
  }
  assert.deepEqual(starts, [false, false, true], 'the third failure starts throttling, once');
  assert.equal(waitMs(bucket, 0, LIMIT), 10_000);
  assert.equal(waitMs(bucket, 5_000, LIMIT), 5_000, 'half a failure has decayed');
  assert.equal(waitMs(bucket, 9_999, LIMIT), 1, 'one ms short');
  assert.equal(waitMs(bucket, 10_000, LIMIT), 0, 'one failure back: one more try');
  const again = afterFailure(bucket, 10_000, LIMIT);
  assert.equal(again.startsThrottling, true, 'spending it throttles again');
  assert.equal(waitMs(again.bucket, 10_000, LIMIT), 10_000);
  assert.equal(failuresLeft(again.bucket, 10_000 + 60_000, LIMIT), 3, 'refills to the burst and no further');
});

test('failures left: a new address has the burst; a clock stepping back refills nothing', () => {
  assert.equal(failuresLeft(undefined, 123, LIMIT), 3);
  const bucket = { tokens: 0.5, at: 50_000 };
  assert.equal(failuresLeft(bucket, 40_000, LIMIT), 0.5);
  assert.equal(waitMs(bucket, 40_000, LIMIT), 5_000);
  assert.equal(afterFailure(bucket, 50_000, LIMIT).bucket.tokens, 0, 'never below zero');
  assert.equal(afterFailure(bucket, 50_000, LIMIT).startsThrottling, false, 'already throttled: not a new start');
});

test('AuthThrottle: per address, with an injected clock', () => {
  let now = 1_000;
  const throttle = new AuthThrottle(() => now);
  assert.deepEqual([throttle.fail('a', LIMIT), throttle.fail('a', LIMIT), throttle.fail('a', LIMIT)], [false, false, true]);
  assert.equal(throttle.waitMs('a', LIMIT), 10_000);
  assert.equal(throttle.waitMs('b', LIMIT), 0, 'another address is not touched');
  now += 10_000;
  assert.equal(throttle.waitMs('a', LIMIT), 0);
  now += 20_000;
  assert.equal(throttle.waitMs('a', LIMIT), 0);
  assert.equal(throttle.size, 0, 'a bucket refilled to the burst is forgotten');
  assert.equal(throttle.waitMs('a', { burst: 3, perMinute: 0.5 }), 0, 'the limit is read at each call (a reload changes it)');
});

test('AuthThrottle: memory is bounded; the address that failed longest ago goes first', () => {
  const now = 0;
  const throttle = new AuthThrottle(() => now, 100);
  for (let i = 0; i < 3; i++) throttle.fail('old', LIMIT);
  for (let i = 0; i < 3; i++) throttle.fail('recent', LIMIT);
  for (let i = 0; i < 98; i++) throttle.fail(`spray-${i}`, LIMIT);
  assert.equal(throttle.size, 100);
  assert.equal(throttle.waitMs('old', LIMIT), 10_000, 'still held at the bound');
  throttle.fail('one-more', LIMIT);
  assert.equal(throttle.size, 100);
  assert.equal(throttle.waitMs('old', LIMIT), 0, 'the oldest failure is forgotten');
  assert.equal(throttle.waitMs('recent', LIMIT), 10_000);
  for (let i = 0; i < 10_000; i++) throttle.fail(`flood-${i}`, LIMIT);
  assert.equal(throttle.size, 100, 'ten thousand addresses hold no more than the bound');
});
