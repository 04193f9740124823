import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { simulate, type SimulationReport } from '../../src/admin/simulate.js';

const T = 1_700_002_800_000;

function run(onLimit: string, rate: number, times: number[]): SimulationReport {
  const config = parseConfig(`rate_limit: { requests_per_second: ${rate}, burst: 1, on_limit: ${onLimit} }
routes: [{ path: /api, upstream: http://127.0.0.1:8000 }]
`, 'sim.yaml', {});
  return simulate(config, times.map((at) => JSON.stringify({ time: T + at, method: 'GET', path: '/api/x', ip: '10.0.0.1' })));
}
const row = (r: SimulationReport) => {
  const { allowed, delayed, refused } = r.routes[0]!;
  return { allowed, delayed, refused };
};

// 4 tokens a second, burst 1: after the first request, one passes every 250 ms.
test('refused requests whose wait fits are held and released in order at their virtual instants', () => {
  // At 0: the first passes; the 2nd waits 250 ms, the 3rd 500 (one queued ahead); the 4th and 5th find the queue (2) full.
  // At 600 the bucket holds 0.4 token (the 3rd took one at 500): held until 750. At 2000: a full bucket.
  const r = run('{ delay_up_to: 1s, max_queue: 2 }', 4, [0, 0, 0, 0, 0, 600, 2000]);
  assert.deepEqual(row(r), { allowed: 2, delayed: 3, refused: 2 });
});

test('a release spends the token then, so a later line finds it gone', () => {
  // The 2nd is released at 250 and takes that token: the line at 260 is held until 500, not passed.
  const r = run('{ delay_up_to: 1s }', 4, [0, 0, 260, 2000]);
  assert.deepEqual(row(r), { allowed: 2, delayed: 2, refused: 0 });
  // Without on_limit the same log refuses both.
  const plain = simulate(parseConfig(`rate_limit: { requests_per_second: 4, burst: 1 }\nroutes: [{ path: /api, upstream: http://127.0.0.1:8000 }]\n`, 'sim.yaml', {}),
    [0, 0, 260, 2000].map((at) => JSON.stringify({ time: T + at, method: 'GET', path: '/api/x', ip: '10.0.0.1' })));
  assert.deepEqual(row(plain), { allowed: 3, delayed: 0, refused: 1 });
});

test('a wait beyond delay_up_to is refused, and a queued request still gets its answer when the log ends', () => {
  // 0.5/s: the 2nd would wait 2 s, past the 1 s allowed.
  assert.deepEqual(row(run('{ delay_up_to: 1s }', 0.5, [0, 0])), { allowed: 1, delayed: 0, refused: 1 });
  // 1/s, up to 2 s: the 2nd and 3rd are held past the last line, released at 1000 and 2000.
  assert.deepEqual(row(run('{ delay_up_to: 2s }', 1, [0, 0, 0])), { allowed: 1, delayed: 2, refused: 0 });
});
