import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { hashApiKey } from '../../src/limit/api-keys.js';

const parse = (yaml: string) => parseConfig(yaml, 'policies.yaml', {});
const route = (extra = '') => `routes:\n  - path: /api\n    upstream: http://127.0.0.1:8000\n${extra.replace(/^/gm, '    ')}\n`;
const HASH = hashApiKey('k1');

function problemsOf(yaml: string, load: () => unknown = () => parse(yaml)): string[] {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('the config was accepted');
}

test('the shorthand is one limit named after its policy; a list is numbered', () => {
  const c = parse(`rate_limit: { requests_per_second: 5, burst: 10 }
${route(`rate_limit:
  limits:
    - { requests_per_second: 10, burst: 20 }
    - { algorithm: sliding_window, limit: 1000, window: 1h }
    - { algorithm: concurrency, limit: 3, scope: route, lease: 30s }
    - { algorithm: gcra, requests_per_second: 1, burst: 1, mode: shadow, scope: global }`)}`);
  const limits = c.routes[0]!.policy!.limits;
  assert.deepEqual(limits.map((l) => l.id), ['/api#1', '/api#2', '/api#3', '/api#4']);
  assert.deepEqual(limits.map((l) => [l.algorithm, l.capacity, l.windowMs]), [
    ['token_bucket', 20, 2000],
    ['sliding_window', 1000, 3_600_000],
    ['concurrency', 3, 0],
    ['gcra', 1, 1000],
  ]);
  assert.equal(limits[1]!.rate, 1000 / 3600);
  assert.deepEqual([limits[2]!.scope, limits[2]!.leaseMs, limits[3]!.mode, limits[3]!.scope], ['route', 30_000, 'shadow', 'global']);
});

test('a route inherits what it leaves out; plans and keys resolve into limit sets', () => {
  const c = parse(`rate_limit: { requests_per_second: 5, burst: 10, key: [query:api_key, ip], ipv6_subnet: 56, on_limit: { delay_up_to: 1.5s } }
plans:
  free: { limits: [ { requests_per_second: 1, burst: 5 }, { algorithm: fixed_window, limit: 1000, window: 1d } ] }
  pro: { limits: [ { requests_per_second: 50, burst: 100 } ] }
api_keys:
  - { id: acme, hash: "${HASH.toUpperCase().replace('SHA256', 'sha256')}", plan: pro }
${route(`rate_limit:
  limits:
    - { requests_per_second: 10, burst: 20 }
    - { requests_per_second: 500, burst: 500, scope: route }
cost: 2`)}  - path: /web
    upstream: http://127.0.0.1:8001
    rate_limit: { requests_per_second: 20 }
`);
  const [api, web] = c.routes;
  assert.deepEqual(web!.policy!.limits.map((l) => [l.id, l.rate, l.capacity]), [['/web', 20, 10]], 'burst inherited from the default');
  assert.equal(web!.policy!.ipv6Subnet, 56);
  assert.deepEqual(web!.policy!.onLimit, { delayUpToMs: 1500, maxQueue: 10 });
  assert.deepEqual(web!.policy!.key, [{ kind: 'query', name: 'api_key' }, { kind: 'ip' }]);
  assert.equal(api!.cost, 2);
  assert.equal(c.apiKeys[0]!.sha256, HASH.slice(7), 'hashes are kept lower-case, without the prefix');
  const sets = api!.limitSets!;
  assert.deepEqual(sets.anonymous.limits.map((l) => l.id), ['/api#1', '/api#2']);
  assert.deepEqual(sets.plans.pro!.limits.map((l) => l.id), ['plan:pro', '/api#2'], "a plan's limits plus the route's shared ones");
  assert.deepEqual(sets.plans.free!.limits.map((l) => l.id), ['plan:free#1', 'plan:free#2', '/api#2']);
  assert.notEqual(sets.plans.pro!.group, sets.anonymous.group);
});

test('each algorithm takes its own fields; a list entry must be complete', () => {
  // A schema error stops the semantic checks, so the unknown algorithm gets a config of its own.
  const lines = problemsOf(`rate_limit:
  limits:
    - { requests_per_second: 1, burst: 1 }
    - { algorithm: leaky, limit: 1 }
${route()}`);
  assert.ok(lines.includes('rate_limit.limits[1].algorithm: must be one of "token_bucket", "gcra", "fixed_window", "sliding_window", "concurrency"'), lines.join('\n'));
  const semantic = problemsOf(`rate_limit:
  limits:
    - { algorithm: fixed_window, limit: 5, window: 1m, burst: 3 }
    - { algorithm: sliding_window, limit: 5 }
    - { requests_per_second: 1 }
    - { algorithm: token_bucket, requests_per_second: 1, burst: 2, lease: 5s }
${route()}`);
  assert.deepEqual(semantic, [
    'rate_limit.limits[0].burst: does not apply to fixed_window (it takes limit, window)',
    'rate_limit.limits[1].window: is required for sliding_window',
    'rate_limit.limits[2].burst: is required for token_bucket',
    'rate_limit.limits[3].lease: does not apply to token_bucket (it takes requests_per_second, burst)',
  ]);
});

test('durations, shorthand with limits, and missing shorthand fields name their field', () => {
  assert.deepEqual(problemsOf(`rate_limit: { algorithm: fixed_window, limit: 5, window: 10 }\n${route()}`), [
    'rate_limit.window: must be a duration such as 500ms, 10s, 1m, 1h or 1d',
  ]);
  assert.deepEqual(problemsOf(`rate_limit: { requests_per_second: 5, burst: 1, limits: [ { requests_per_second: 1, burst: 1 } ] }\n${route()}`), [
    'rate_limit.requests_per_second: cannot be combined with limits: (put it on an entry of the list)',
    'rate_limit.burst: cannot be combined with limits: (put it on an entry of the list)',
  ]);
  assert.deepEqual(problemsOf(`rate_limit: { algorithm: sliding_window, limit: 5 }\n${route()}`), ['rate_limit.window: is required']);
  assert.deepEqual(problemsOf(`rate_limit: { key: [ip] }\n${route()}`), ['rate_limit.requests_per_second: is required', 'rate_limit.burst: is required']);
});

test('cost must fit every limit it is taken from, plans included', () => {
  const lines = problemsOf(`rate_limit: { requests_per_second: 5, burst: 10 }
plans: { tiny: { limits: [ { requests_per_second: 1, burst: 3 } ] } }
${route('cost: 4')}`);
  assert.deepEqual(lines, ['routes[0].cost: is 4, more than a limit of plan tiny can ever allow (3)']);
  assert.deepEqual(problemsOf(`rate_limit: { requests_per_second: 5, burst: 10 }\n${route('cost: 11')}`), [
    'routes[0].cost: is 11, more than a limit of this route can ever allow (10)',
  ]);
});

test('api keys: unique ids and hashes, real plans, require_api_key needs something to check', () => {
  const lines = problemsOf(`plans: { pro: { limits: [ { requests_per_second: 1, burst: 1 } ] } }
api_keys:
  - { id: a, hash: "${HASH}", plan: pro }
  - { id: a, hash: "${HASH}", plan: gold }
  - { id: b, hash: "sha256:abc" }
${route()}`);
  assert.deepEqual(lines, ['api_keys[2].hash: must match ^sha256:[0-9a-fA-F]{64}$']);
  assert.deepEqual(
    problemsOf(`plans: { pro: { limits: [ { requests_per_second: 1, burst: 1 } ] } }
api_keys:
  - { id: a, hash: "${HASH}", plan: pro }
  - { id: a, hash: "${HASH}", plan: gold }
${route()}`),
    ['api_keys[1].id: duplicates api_keys[0].id "a"', 'api_keys[1].hash: duplicates api_keys[0].hash (two ids for one key)', 'api_keys[1].plan: "gold" is not a plan (plans: pro)'],
  );
  assert.deepEqual(problemsOf(route('require_api_key: true')), ['routes[0].require_api_key: needs api_keys, key_store.type postgres or a jwt: key source to check clients against']);
});

test('allow and deny entries are addresses, CIDRs or key ids', () => {
  const c = parse(`api_keys: [ { id: acme, hash: "${HASH}" } ]
allow: [10.0.0.0/8, acme, "::1"]
${route('deny: [192.0.2.7]')}`);
  const access = c.routes[0]!.access;
  assert.deepEqual(access.allow, { cidrs: [['10.0.0.0', 8], ['::1', 128]], keyIds: ['acme'] });
  assert.deepEqual(access.deny, { cidrs: [['192.0.2.7', 32]], keyIds: [] });
  assert.deepEqual(problemsOf(`deny: [10.0.0.0/33, nobody]\n${route()}`), [
    'deny[0]: "10.0.0.0/33" is neither an address or CIDR nor an api_keys id',
    'deny[1]: "nobody" is neither an address or CIDR nor an api_keys id',
  ]);
});

test('jwt: a key source needs a jwt section, and each algorithm its key', () => {
  assert.deepEqual(problemsOf(`rate_limit: { requests_per_second: 1, burst: 1, key: [jwt:sub, ip] }\n${route()}`), [
    'rate_limit.key[0]: jwt: key sources need a top-level jwt section (algorithm and key)',
  ]);
  assert.deepEqual(problemsOf(`jwt: { algorithm: RS256, secret: "0123456789abcdef0" }\n${route()}`), [
    'jwt.public_key: or public_key_file is required for RS256',
    'jwt.secret: does not apply to RS256 (it takes public_key or public_key_file)',
  ]);
  const bad = problemsOf(`jwt: { algorithm: ES256, public_key: "not a pem" }\n${route()}`);
  assert.equal(bad.length, 1);
  assert.match(bad[0]!, /^jwt\.public_key: /);
});

test('api_keys_file and public_key_file are read next to the config; their errors name the file and entry', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-policies-'));
  writeFileSync(join(dir, 'keys.yaml'), `- { id: acme, hash: "${HASH}", plan: pro }\n- { id: beta, hash: "sha256:${'0'.repeat(64)}" }\n`);
  writeFileSync(join(dir, 'bad-keys.yaml'), `- { id: acme, hash: "${HASH}" }\n- { id: beta, hash: nope }\n`);
  const config = (keys: string) => `plans: { pro: { limits: [ { requests_per_second: 1, burst: 1 } ] } }\napi_keys_file: ${keys}\n${route()}`;
  writeFileSync(join(dir, 'good.yaml'), config('keys.yaml'));
  writeFileSync(join(dir, 'bad.yaml'), config('bad-keys.yaml'));
  writeFileSync(join(dir, 'missing.yaml'), config('nope.yaml'));
  const c = loadConfig(join(dir, 'good.yaml'), {});
  assert.deepEqual(c.apiKeys.map((k) => [k.id, k.plan]), [['acme', 'pro'], ['beta', null]]);
  assert.deepEqual(problemsOf('', () => loadConfig(join(dir, 'bad.yaml'), {})), ['api_keys_file (bad-keys.yaml)[1].hash: must match ^sha256:[0-9a-fA-F]{64}$']);
  const missing = problemsOf('', () => loadConfig(join(dir, 'missing.yaml'), {}));
  assert.equal(missing.length, 1);
  assert.match(missing[0]!, /^api_keys_file: cannot read .*nope\.yaml: file not found$/);
});

test('unverified_key_envelope: each client-scoped limit gets an address envelope (x10 by default), inherited like key; false is off', () => {
  const c = parse(`rate_limit: { requests_per_second: 5, burst: 10 }
routes:
  - { path: /a, upstream: "http://127.0.0.1:8000" }
  - path: /b
    upstream: http://127.0.0.1:8000
    rate_limit:
      unverified_key_envelope: { multiplier: 3 }
      limits:
        - { algorithm: sliding_window, limit: 100, window: 1m }
        - { requests_per_second: 50, burst: 50, scope: route }
        - { algorithm: concurrency, limit: 2, mode: shadow }
  - { path: /c, upstream: "http://127.0.0.1:8000", rate_limit: { unverified_key_envelope: false } }
  - { path: /d, upstream: "http://127.0.0.1:8000", rate_limit: { requests_per_second: 9, burst: 9, scope: route } }
`);
  const envelopes = (i: number) => c.routes[i]!.limitSets!.unverifiedKey?.limits.filter((l) => l.scope === 'address').map((l) => [l.id, l.algorithm, l.mode, l.rate, l.capacity, l.windowMs]);
  assert.deepEqual(envelopes(0), [['default#envelope', 'token_bucket', 'enforce', 50, 100, 2000]], 'same refill window, ten times the budget');
  assert.deepEqual(envelopes(1), [
    ['/b#1#envelope', 'sliding_window', 'enforce', 5, 300, 60_000],
    ['/b#3#envelope', 'concurrency', 'shadow', 0, 6, 0],
  ], 'route-scoped limits have none; a shadow limit has a shadow envelope');
  assert.equal(c.routes[1]!.limitSets!.unverifiedKey!.limits.length, 5, 'the policy limits, then the envelopes');
  assert.equal(c.routes[2]!.limitSets!.unverifiedKey, undefined);
  assert.equal(c.routes[3]!.limitSets!.unverifiedKey, undefined, 'no client-scoped limit, nothing to envelope');
  assert.equal(c.routes[0]!.limitSets!.anonymous.limits.length, 1, 'anonymous and verified clients are untouched');
});
