import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLI, writeConfig } from '../helpers/cli.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

/** `throttlegate explain`: the admin API's explanation, offline, from the real CLI process. */
const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'explain', ...args], { encoding: 'utf8' });

const config = writeConfig(`rate_limit: { requests_per_second: 1, burst: 3 }
plans: { pro: { limits: [ { algorithm: gcra, requests_per_second: 10, burst: 20 } ] } }
api_keys: [ { id: acme, hash: "${hashApiKey('acme-secret')}", plan: pro } ]
deny: [192.0.2.0/24]
routes:
  - path: /api
    upstream: http://127.0.0.1:1
  - path: /partner
    upstream: http://127.0.0.1:1
    require_api_key: true
    methods: [GET]
`);

type Explained = { route: { path: string } | null; refusal: string | null; client: { label: string; key_id: string | null; plan: string | null } | null; decision: string; status: number; limits: { id: string; remaining: number; limit: number }[] };
const explain = (...args: string[]): Explained => {
  const r = run(['--config', config, ...args]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Explained;
};

test('explain: route, client by label (never the key), plan limits and the decision', () => {
  const e = explain('GET', '/partner/orders', '--header', 'x-api-key:acme-secret');
  assert.equal(e.route?.path, '/partner');
  assert.deepEqual(e.client, { label: 'id:acme', key_id: 'acme', plan: 'pro', verified: true });
  assert.deepEqual(e.limits.map((l) => [l.id, l.limit, l.remaining]), [['plan:pro', 20, 20]], 'offline every client is new');
  assert.deepEqual([e.decision, e.status], ['allowed', 200]);
  assert.doesNotMatch(JSON.stringify(e), /acme-secret/);
});

test('explain: 401, 403, 404 and 405 as the gateway would answer', () => {
  assert.deepEqual(((e) => [e.decision, e.status])(explain('GET', '/partner/x')), ['invalid_api_key', 401]);
  assert.deepEqual(((e) => [e.decision, e.status])(explain('GET', '/api/x', '--ip', '192.0.2.7')), ['denied', 403]);
  assert.deepEqual(((e) => [e.refusal, e.status])(explain('GET', '/nowhere')), ['not_found', 404]);
  assert.deepEqual(((e) => [e.refusal, e.status])(explain('POST', '/partner/x')), ['method_not_allowed', 405]);
});

test('explain: bad arguments and a bad config exit 1 with a message, no stack trace', () => {
  const missing = run(['--config', config, 'GET']);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /expected METHOD and PATH/);
  const header = run(['--config', config, 'GET', '/api', '--header', 'nocolon']);
  assert.equal(header.status, 1);
  assert.match(header.stderr, /--header must be NAME:VALUE/);
  const bad = run(['--config', writeConfig('routes: []\n'), 'GET', '/api']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /routes/);
  assert.doesNotMatch(bad.stderr, /\n\s+at /);
});
