import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/problems.js';
import { DEFAULTS } from '../../src/config/defaults.js';

const parse = (yaml: string) => parseConfig(yaml, 'pools.yaml', {});

/** The problems of a config that must be refused, as `path: message` lines. */
function problemsOf(yaml: string): string[] {
  try {
    parse(yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'TG_ERR_CONFIG_INVALID');
    assert.ok(err.message.includes('pools.yaml'), 'the message names the file');
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('the config was accepted');
}

const pool = (body: string) => `routes:\n  - path: /api\n    upstream:\n${body.replace(/^/gm, '      ')}\n`;

test('a full pool resolves with every duration unit parsed', () => {
  const c = parse(pool(`targets:
  - { url: http://a.internal:8000, weight: 3 }
  - { url: http://b.internal:8000 }
balance: least_connections
health_check: { path: /healthz, interval: 500ms, timeout: 10s, healthy_after: 4, unhealthy_after: 5 }
passive: { eject_after: 7, eject_for: 1m }
retries: 2
circuit_breaker: { error_rate: 0.25, min_requests: 9, window: 1h, open_for: 1d }`));
  const u = c.routes[0]!.upstream;
  assert.deepEqual(u.targets, [
    { url: 'http://a.internal:8000', origin: 'http://a.internal:8000', weight: 3 },
    { url: 'http://b.internal:8000', origin: 'http://b.internal:8000', weight: 1 },
  ]);
  assert.equal(u.balance, 'least_connections');
  assert.deepEqual(u.healthCheck, { path: '/healthz', intervalMs: 500, timeoutMs: 10_000, healthyAfter: 4, unhealthyAfter: 5 });
  assert.deepEqual(u.passive, { ejectAfter: 7, ejectForMs: 60_000 });
  assert.equal(u.retries, 2);
  assert.deepEqual(u.circuitBreaker, { errorRate: 0.25, minRequests: 9, windowMs: 3_600_000, openForMs: 86_400_000 });
  assert.ok(Object.isFrozen(u.targets[0]), 'deep-frozen');
});

test('a plain upstream URL is a pool of one with the defaults; empty sections get the documented defaults', () => {
  const plain = parse('routes:\n  - { path: /api, upstream: "http://a.internal:8000/base" }\n').routes[0]!;
  assert.deepEqual(plain.upstream, {
    targets: [{ url: 'http://a.internal:8000/base', origin: 'http://a.internal:8000', weight: 1 }],
    balance: 'round_robin',
    healthCheck: null,
    passive: null,
    retries: 0,
    circuitBreaker: null,
  });
  assert.equal(plain.upstreamPath, '/base');
  const d = DEFAULTS.upstream;
  const u = parse(pool('targets: [{ url: "http://a.internal" }]\nhealth_check: { path: /h }\npassive: {}\ncircuit_breaker: {}')).routes[0]!.upstream;
  assert.deepEqual(u.healthCheck, { path: '/h', intervalMs: 5_000, timeoutMs: 1_000, healthyAfter: d.health_check.healthy_after, unhealthyAfter: d.health_check.unhealthy_after });
  assert.deepEqual(u.passive, { ejectAfter: 5, ejectForMs: 30_000 });
  assert.deepEqual(u.circuitBreaker, { errorRate: 0.5, minRequests: 20, windowMs: 10_000, openForMs: 15_000 });
});

test('a bad duration names the field', () => {
  const problems = problemsOf(
    pool('targets: [{ url: "http://a.internal" }]\nhealth_check: { path: /h, interval: 10 sec, timeout: 1.s }\ncircuit_breaker: { open_for: 2w }\npassive: { eject_for: 5 }'),
  );
  const duration = 'must be a duration such as 500ms, 10s, 1m, 1h or 1d';
  // Reported in schema order, not file order: compared as a set.
  assert.equal(problems.length, 4, problems.join('\n'));
  for (const field of ['health_check.interval', 'health_check.timeout', 'circuit_breaker.open_for']) {
    assert.ok(problems.includes(`routes[0].upstream.${field}: ${duration}`), `${field} in\n${problems.join('\n')}`);
  }
  // A bare number (no unit) is refused too, under its own field name.
  assert.ok(problems.some((p) => p.startsWith('routes[0].upstream.passive.eject_for: ')), problems.join('\n'));
});

test("a pool's targets must share one path", () => {
  const problems = problemsOf(pool('targets:\n  - { url: "http://a.internal/x" }\n  - { url: "http://b.internal/x/" }\n  - { url: "http://c.internal/y" }'));
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /^routes\[0\]\.upstream\.targets\[2\]\.url: has path "\/y" but targets\[0\] has "\/x": a pool's targets must share one path$/);
});

test('rewrite cannot be combined with strip_prefix: true', () => {
  const problems = problemsOf('routes:\n  - { path: /api, upstream: "http://a.internal", strip_prefix: true, rewrite: { prefix: /v1 } }\n');
  assert.equal(problems.length, 1, problems.join('\n'));
  assert.match(problems[0]!, /^routes\[0\]\.rewrite: cannot be combined with strip_prefix: true/);
  // strip_prefix: false with a rewrite is fine.
  assert.equal(parse('routes:\n  - { path: /api, upstream: "http://a.internal", strip_prefix: false, rewrite: { prefix: /v1 } }\n').routes[0]!.rewritePrefix, '/v1');
});

test('duplicate path + host + methods refused; different hosts or disjoint methods on one path accepted', () => {
  const route = (extra: string) => `  - { path: /api, upstream: "http://a.internal"${extra} }\n`;
  const dup = problemsOf(`routes:\n${route(', host: api.example.com')}${route(', host: API.example.com')}`);
  assert.equal(dup.length, 1, dup.join('\n'));
  assert.match(dup[0]!, /^routes\[1\]\.path: duplicates routes\[0\]\.path "\/api"/);
  const overlap = problemsOf(`routes:\n${route(', methods: [GET, POST]')}${route(', methods: [POST]')}`);
  assert.equal(overlap.length, 1, overlap.join('\n'));
  assert.match(overlap[0]!, /^routes\[1\]\.path: duplicates routes\[0\]\.path/);
  const bare = problemsOf(`routes:\n${route('')}${route(', methods: [GET]')}`);
  assert.match(bare[0]!, /^routes\[1\]\.path: duplicates/, 'a route without methods takes them all');

  const ok = parse(`routes:\n${route(', host: api.example.com')}${route(', host: "*.example.com"')}${route('')}${route(', host: www.example.com, methods: [GET]')}${route(', host: www.example.com, methods: [POST]')}`);
  assert.deepEqual(ok.routes.map((r) => r.host), ['api.example.com', '*.example.com', null, 'www.example.com', 'www.example.com']);
});

test('unknown keys and out-of-range values in a pool are refused, naming the field', () => {
  assert.deepEqual(problemsOf(pool('targets: [{ url: "http://a.internal" }]\nretry: 1')), ['routes[0].upstream.retry: unknown key']);
  assert.deepEqual(problemsOf(pool('targets: [{ url: "http://a.internal", wieght: 2 }]')), ['routes[0].upstream.targets[0].wieght: unknown key']);
  assert.deepEqual(problemsOf(pool('targets: [{ url: "http://a.internal" }]\ncircuit_breaker: { open: 1s }')), ['routes[0].upstream.circuit_breaker.open: unknown key']);
  assert.deepEqual(problemsOf(pool('targets: [{ url: "http://a.internal" }]\nbalance: fastest')), [
    'routes[0].upstream.balance: must be one of "round_robin", "least_connections", "random_two"',
  ]);
  assert.deepEqual(problemsOf(pool('targets: [{ url: "http://a.internal", weight: 0 }]')), ['routes[0].upstream.targets[0].weight: must be >= 1']);
  assert.deepEqual(problemsOf(pool('targets: []')), ['routes[0].upstream.targets: must NOT have fewer than 1 items']);
  assert.deepEqual(problemsOf(pool('balance: random_two')), ['routes[0].upstream.targets: is required']);
  assert.deepEqual(problemsOf(pool('targets: [{ url: "ftp://a.internal" }]')), ['routes[0].upstream.targets[0].url: must be an absolute http:// or https:// URL']);
});
