import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulate, type SimulateArgs } from '../../src/admin/simulate-command.js';
import type { SimulationReport } from '../../src/admin/simulate.js';

const T = 1_700_002_800_000;
const dir = mkdtempSync(join(tmpdir(), 'tg-sim-cmd-'));
const write = (name: string, text: string) => {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
};
const config = write('config.yaml', 'rate_limit: { requests_per_second: 0.001, burst: 2 }\nroutes: [{ path: /api, upstream: "http://127.0.0.1:8000" }]\n');
const log = write('access.jsonl', [0, 1, 2, 3].map((i) => JSON.stringify({ time: T + i, method: 'GET', path: '/api/x', ip: '10.0.0.1' })).join('\n') + '\nnot json\n');

function run(args: Partial<SimulateArgs>): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = runSimulate({ config, log, json: false, ...args }, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

test('--json: the report as JSON, exit 0', () => {
  const { code, out, err } = run({ json: true });
  assert.equal(code, 0, err);
  const r = JSON.parse(out) as SimulationReport;
  assert.deepEqual([r.lines, r.requests, r.malformed, r.malformed_lines], [5, 4, 1, [5]]);
  assert.deepEqual(r.routes.map((x) => [x.route, x.group, x.allowed, x.refused]), [['/api', 'default', 2, 2]]);
  assert.deepEqual(r.top_refused, [{ client: 'ip:10.0.0.1', refused: 2 }]);
});

test('the default output is a table with the top refused clients', () => {
  const { code, out } = run({});
  assert.equal(code, 0);
  assert.match(out, /4 requests over 0\.0 s of log; 0 skipped, 1 malformed \(lines 5\)/);
  assert.match(out, /^route\s+limit set\s+allowed\s+delayed/m);
  assert.match(out, /^\/api\s+default\s+2\s+0\s+0\s+2\b/m);
  assert.match(out, /top refused clients:\n\s+client\s+refused\n\s+ip:10\.0\.0\.1\s+2/);
});

test('a missing or invalid config, a missing log: exit 1 with one clear message naming the file', () => {
  const missing = run({ config: join(dir, 'nope.yaml') });
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope\.yaml.*file not found/);

  const bad = write('bad.yaml', 'rate_limit: { requests_per_second: -1, burst: 1 }\nroutes: [{ path: /api, upstream: "http://127.0.0.1:8000" }]\n');
  const invalid = run({ config: bad });
  assert.equal(invalid.code, 1);
  assert.ok(invalid.err.includes(`${bad}: rate_limit.requests_per_second:`), invalid.err);

  const noLog = run({ log: join(dir, 'none.jsonl') });
  assert.equal(noLog.code, 1);
  assert.equal(noLog.err, `throttlegate simulate: cannot read log ${join(dir, 'none.jsonl')}: file not found`);
  assert.equal(run({ log: dir }).err, `throttlegate simulate: cannot read log ${dir}: is a directory`);
  assert.match(run({ log: undefined }).err, /--log FILE is required/);
  for (const r of [missing, invalid, noLog]) assert.equal(r.out, '');
});
