import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLI, writeConfig } from '../helpers/cli.js';

// The built CLI (dist/cli.js, `npm run build`), as a user runs it.
const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });

test('throttlegate simulate: --help, a JSON report, and exit 1 for a bad config or log', () => {
  const help = run(['simulate', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: throttlegate simulate \[--config FILE\] --log FILE \[--json\]/);
  assert.match(run(['--help']).stdout, /throttlegate simulate/);

  const config = writeConfig('rate_limit: { requests_per_second: 0.001, burst: 1 }\nroutes: [{ path: /api, upstream: "http://127.0.0.1:8000" }]\n');
  const log = join(dirname(config), 'access.jsonl');
  writeFileSync(log, ['{"level":30,"time":1700000000000,"msg":"started"}', ...[1, 2, 3].map((i) => JSON.stringify({ time: 1_700_000_000_000 + i, method: 'GET', path: '/api', ip: '10.0.0.1' }))].join('\n'));
  const ok = run(['simulate', '--config', config, '--log', log, '--json']);
  assert.equal(ok.status, 0, ok.stderr);
  const report = JSON.parse(ok.stdout) as { skipped: number; routes: { allowed: number; refused: number }[] };
  assert.deepEqual([report.skipped, report.routes[0]?.allowed, report.routes[0]?.refused], [1, 1, 2]);

  const bad = run(['simulate', '--config', writeConfig('routes: [{ path: nope, upstream: "http://x" }]\n'), '--log', log]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /config\.yaml: routes\[0\]\.path:/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  const noLog = run(['simulate', '--config', config, '--log', `${log}.missing`]);
  assert.equal(noLog.status, 1);
  assert.match(noLog.stderr, /cannot read log .*access\.jsonl\.missing: file not found/);
  assert.equal(run(['simulate', '--config', config]).status, 1);
});
