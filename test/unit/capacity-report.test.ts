import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logging.js';
import { CAPACITY_WARN_EVERY_MS, capacityReporter } from '../../src/limit/stores/capacity-report.js';

test('a full store: every refusal is counted, one warn line a minute at most, telling how many since the last', () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let now = 0;
  let counted = 0;
  const report = capacityReporter(createLogger('info', sink), () => counted++, 500, () => now);
  report();
  for (let i = 0; i < 99; i++) report();
  now += CAPACITY_WARN_EVERY_MS - 1;
  report();
  assert.equal(counted, 101);
  assert.equal(lines.length, 1, 'one line for the first refusal, none while the minute runs');
  assert.deepEqual([lines[0]?.level, lines[0]?.event, lines[0]?.max_keys, lines[0]?.refused], [40, 'store_full', 500, 1]);
  now += 1;
  report();
  assert.equal(lines.length, 2);
  assert.equal(lines[1]?.refused, 101, 'the refusals since the last line, this one included');
});
