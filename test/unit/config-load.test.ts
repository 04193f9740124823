import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { loadConfig, ConfigError } from '../../src/index.js';
import { DEFAULTS } from '../../src/config/defaults.js';

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/config/${name}`, import.meta.url));

function problemsOf(name: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    loadConfig(fixture(name), env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(err.message.includes(fixture(name)), 'the message names the file');
    return err.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message));
  }
  assert.fail(`${name} was accepted`);
}

test('minimal config gets the documented defaults', () => {
  const c = loadConfig(fixture('good-minimal.yaml'), {});
  assert.equal(c.server.host, DEFAULTS.server.host);
  assert.equal(c.server.port, 8080);
  assert.equal(c.server.trustProxy, false);
  assert.equal(c.log.level, 'info');
  const r = c.routes[0]!;
  assert.equal(r.stripPrefix, false);
  assert.equal(r.timeoutMs, 30_000);
  assert.equal(r.tlsVerify, true);
  assert.equal(r.policy, null, 'no rate_limit anywhere: not limited');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.routes[0]), 'deep-frozen');
});

test('full config: env interpolation with defaults, policy inheritance, upstream paths', () => {
  const c = loadConfig(fixture('good-full.yaml'), { PORT: '7070' });
  assert.equal(c.server.port, 7070, '${PORT:-9090} read as a number from the environment');
  assert.equal(c.log.level, 'warn', 'default used when the variable is unset');
  assert.deepEqual(c.server.trustProxy, ['127.0.0.1', '10.0.0.0/8']);
  const [api, v2, open] = c.routes;
  assert.equal(api!.policy!.id, 'default');
  assert.equal(api!.policy!.limits[0]!.rate, 0.5);
  assert.deepEqual(api!.policy!.key, [{ kind: 'header', name: 'x-api-key' }, { kind: 'ip' }], 'header names lower-cased');
  assert.equal(v2!.policy!.id, '/api/v2');
  assert.equal(v2!.policy!.limits[0]!.capacity, 40);
  assert.deepEqual(v2!.policy!.key, api!.policy!.key, 'key inherited from the default policy');
  assert.deepEqual(v2!.policy!.headers, { legacy: true, draft: false });
  assert.equal(v2!.upstreamOrigin, 'https://backend.internal:9443');
  assert.equal(v2!.upstreamPath, '/base');
  assert.equal(v2!.stripPrefix, true);
  assert.equal(open!.policy, null, 'rate_limit: false turns limiting off');
});

test('LOG_LEVEL overrides log.level', () => {
  assert.equal(loadConfig(fixture('good-full.yaml'), { LOG_LEVEL: 'debug' }).log.level, 'debug');
});

const cases: [string, RegExp[]][] = [
  ['bad-yaml-syntax.yaml', [/YAML syntax error at line \d+, column \d+/]],
  ['bad-unknown-key.yaml', [/^rate_limit\.bursts: unknown key$/, /^rate_limit\.burst: is required$/, /^routes\[0\]\.upstrem: unknown key$/, /^routes\[0\]\.upstream: is required$/]],
  ['bad-burst.yaml', [/^routes\[1\]\.rate_limit\.requests_per_second: must be > 0$/, /^routes\[1\]\.rate_limit\.burst: must be integer$/]],
  ['bad-routes-empty.yaml', [/^routes: must NOT have fewer than 1 items$/]],
  ['bad-routes-missing.yaml', [/^routes: is required$/]],
  ['bad-path.yaml', [/^routes\[0\]\.path: must start with "\/"/, /^routes\[1\]\.path: must start with "\/"/, /^routes\[2\]\.path: must not contain "\." or "\.\." segments$/]],
  ['bad-duplicate-path.yaml', [/^routes\[1\]\.path: duplicates routes\[0\]\.path "\/api"$/]],
  ['bad-upstream.yaml', [/^routes\[0\]\.upstream: must be an absolute http/, /^routes\[1\]\.upstream: must be an absolute http/, /^routes\[2\]\.upstream: must not carry credentials$/]],
  ['bad-port.yaml', [/^server\.port: must be <= 65535$/]],
  ['bad-key-source.yaml', [/^rate_limit\.key\[0\]: must be "ip" or "header:<name>"$/, /^rate_limit\.key\[1\]: must be "ip" or "header:<name>"$/]],
  ['bad-env-missing.yaml', [/^routes\[0\]\.upstream: environment variable THROTTLEGATE_TEST_UNSET_UPSTREAM is not set/]],
  ['bad-reserved-path.yaml', [/^routes\[0\]\.path: "\/metrics" is reserved/]],
  ['bad-trust-proxy.yaml', [/^server\.trust_proxy: must be true, false, a hop count/]],
  ['bad-proto-key.yaml', [/^__proto__: unknown key$/]],
  ['bad-alias-bomb.yaml', [/more than 10000 nodes|alias/i]],
  ['bad-route-limit-no-default.yaml', [/^routes\[0\]\.rate_limit\.requests_per_second: is required when there is no top-level rate_limit/]],
  [
    'bad-adaptive.yaml',
    [
      /^adaptive\.mode: must be one of/,
      /^adaptive\.bands\.normal\.below: must be above adaptive\.bands\.trusted\.below \(50\): bands must be increasing$/,
      /^adaptive\.bands\.normal\.limit_factor: must be > 0$/,
      /^adaptive\.bands\.blocked\.block_for: /,
      /^adaptive\.max_clients: must be >= 100$/,
      /^routes\[0\]\.adaptive: must be boolean$/,
    ],
  ],
  [
    'bad-adaptive-concurrency.yaml',
    [
      /^routes\[0\]\.adaptive_concurrency: must be boolean,object$/,
      /^routes\[1\]\.adaptive_concurrency\.max_limt: unknown key$/,
      /^routes\[1\]\.adaptive_concurrency\.buffer: must be >= 0$/,
      /^routes\[1\]\.adaptive_concurrency\.max_limit: must be at least min_limit \(50\)$/,
      /^routes\[1\]\.adaptive_concurrency\.sample_window: must be a duration such as 500ms/,
      /^routes\[2\]\.adaptive_concurrency\.initial_limit: must be between min_limit \(3\) and max_limit \(1000\)$/,
      /^routes\[3\]\.adaptive_concurrency\.min_rtt_interval: must be longer than sample_window \(10000ms\)$/,
      /^routes\[4\]\.adaptive_concurrency\.min_limit: must be >= 1$/,
      /^routes\[4\]\.adaptive_concurrency\.sample_window: must be at least 1ms$/,
    ],
  ],
  [
    'bad-key-envelope.yaml',
    [
      /^rate_limit\.unverified_key_envelope: must be false or \{ multiplier: N \}/,
      /^routes\[0\]\.rate_limit\.unverified_key_envelope\.multiplier: must be >= 1$/,
      /^routes\[1\]\.rate_limit\.unverified_key_envelope\.multipler: unknown key$/,
    ],
  ],
];

for (const [file, expected] of cases) {
  test(`rejects ${file} naming every field`, () => {
    const problems = problemsOf(file);
    for (const re of expected) assert.ok(problems.some((p) => re.test(p)), `${re} not in:\n${problems.join('\n')}`);
  });
}

test('__proto__ in YAML does not pollute Object.prototype', () => {
  problemsOf('bad-proto-key.yaml');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('a missing file is a clear error', () => {
  const problems = problemsOf('does-not-exist.yaml');
  assert.match(problems[0]!, /cannot read: file not found/);
});
