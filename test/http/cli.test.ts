import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CLI, writeConfig } from '../helpers/cli.js';
import { hashKey } from '../../src/limit/keys.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
const shipped = fileURLToPath(new URL('../../../configs/config.yaml', import.meta.url));

test('validate: the shipped config is OK', () => {
  const r = run(['validate', '--config', shipped]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /config OK/);
});

test('validate: every problem, file and field named, exit 1, no stack trace', () => {
  const file = writeConfig('rate_limit: { requests_per_second: -1, burst: 0 }\nroutes:\n  - path: nope\n    upstream: http://x\n    colour: red\n');
  const r = run(['validate', '--config', file]);
  assert.equal(r.status, 1);
  for (const field of ['rate_limit.requests_per_second', 'rate_limit.burst', 'routes[0].path', 'routes[0].colour']) {
    assert.ok(r.stderr.includes(`${file}: ${field}:`), `${field} missing from:\n${r.stderr}`);
  }
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('THROTTLEGATE_CONFIG names the file when no flag does', () => {
  const bad = writeConfig('routes: []\n');
  const r = run(['validate'], { THROTTLEGATE_CONFIG: bad });
  assert.equal(r.status, 1);
  assert.ok(r.stderr.includes(bad));
});

test('serve with a bad config exits 1 with the problems', () => {
  const r = run(['serve', '--config', writeConfig('routes: [{ path: /a }]\n')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /routes\[0\]\.upstream: is required/);
});

test('--help on each command; unknown commands and flags exit 1', () => {
  for (const args of [['--help'], ['serve', '--help'], ['validate', '--help'], ['hash-key', '--help']]) {
    const r = run(args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /Usage/);
  }
  assert.equal(run(['frobnicate']).status, 1);
  assert.equal(run(['validate', '--bogus']).status, 1);
});

test('hash-key prints the label the access log uses and the api_keys hash', () => {
  const r = run(['hash-key', 'my-secret-key']);
  assert.equal(r.status, 0);
  assert.deepEqual(r.stdout.trim().split('\n'), [hashKey('my-secret-key'), hashApiKey('my-secret-key')]);
  assert.match(hashApiKey('my-secret-key'), /^sha256:[0-9a-f]{64}$/);
  assert.doesNotMatch(r.stdout, /my-secret-key/);
});
