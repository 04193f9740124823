import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { hashApiKey } from '../../src/limit/api-keys.js';
import { simulate, type RouteRow, type SimulationReport } from '../../src/admin/simulate.js';

// An epoch instant on a whole second (and a whole hour), so fixed windows start at T.
const T = 1_700_002_800_000;
const UP = 'http://127.0.0.1:8000';

function run(yaml: string, lines: object[]): SimulationReport {
  return simulate(parseConfig(yaml, 'sim.yaml', {}), lines.map((l) => JSON.stringify(l)));
}
const get = (ip: string, at: number, path = '/api/x', extra: object = {}) => ({ time: T + at, method: 'GET', path, ip, ...extra });

/** The counts of one row, without its zeros, for readable deepEqual failures. */
function counts(r: SimulationReport, route: string, group: string): Partial<RouteRow> {
  const row = r.routes.find((x) => x.route === route && x.group === group);
  assert.ok(row, `no row ${route} ${group} in ${JSON.stringify(r.routes)}`);
  return Object.fromEntries(Object.entries(row).filter(([, v]) => typeof v === 'number' && v !== 0));
}

test('token bucket: burst at once, then one per refill interval; a refusal costs nothing', () => {
  const r = run(`rate_limit: { requests_per_second: 1, burst: 2 }\nroutes: [{ path: /api, upstream: ${UP} }]\n`, [
    get('10.0.0.1', 0),
    get('10.0.0.1', 0),
    get('10.0.0.1', 0), // empty
    get('10.0.0.1', 500), // half a token
    get('10.0.0.1', 1000), // one token: had the refusals cost, this would fail
    get('10.0.0.1', 1000),
    get('10.0.0.1', 3000), // full again
    get('10.0.0.2', 0), // another client, its own bucket
  ]);
  assert.deepEqual(counts(r, '/api', 'default'), { allowed: 5, refused: 3 });
  assert.deepEqual(r.top_refused, [{ client: 'ip:10.0.0.1', refused: 3 }]);
  assert.equal(r.requests, 8);
  assert.equal(r.seconds, 3);
});

test('fixed window: windows aligned to the clock, a new window a new budget', () => {
  const r = run(`rate_limit: { algorithm: fixed_window, limit: 2, window: 1s }\nroutes: [{ path: /api, upstream: ${UP} }]\n`, [
    get('10.0.0.1', 0),
    get('10.0.0.1', 100),
    get('10.0.0.1', 999),
    get('10.0.0.1', 1000),
    get('10.0.0.1', 1001),
    get('10.0.0.1', 1500),
  ]);
  assert.deepEqual(counts(r, '/api', 'default'), { allowed: 4, refused: 2 });
});

test('plans: a key gets its plan, one budget across routes; an unknown key is limited by its address', () => {
  const yaml = `rate_limit: { requests_per_second: 0.001, burst: 2, key: [header:x-api-key, ip] }
plans:
  pro: { limits: [ { requests_per_second: 0.001, burst: 3 } ] }
  free: { limits: [ { requests_per_second: 0.001, burst: 1 } ] }
api_keys:
  - { id: acme, hash: "${hashApiKey('acme-key')}", plan: pro }
  - { id: trial, hash: "${hashApiKey('trial-key')}", plan: free }
routes:
  - { path: /a, upstream: ${UP} }
  - { path: /b, upstream: ${UP} }
`;
  const r = run(yaml, [
    get('10.0.0.1', 0, '/a/1', { key: 'acme-key' }),
    get('10.0.0.1', 1, '/a/1', { headers: { 'X-Api-Key': 'acme-key' } }),
    get('10.0.0.2', 2, '/b/1', { key: 'acme-key' }), // another address, the same key: the same budget
    get('10.0.0.2', 3, '/b/1', { key: 'acme-key' }),
    { time: T + 4, method: 'GET', path: '/b/1', client: 'id:acme' }, // the gateway's label for that key
    get('10.0.0.3', 5, '/a/1', { key: 'trial-key' }),
    get('10.0.0.3', 6, '/a/1', { key: 'trial-key' }),
    ...[0, 1, 2].map((i) => get('10.0.0.9', 10 + i, '/a/1', { key: `random-${i}` })), // unknown keys share their IP's bucket
  ]);
  assert.deepEqual(counts(r, '/a', 'default+plan:pro'), { allowed: 2 });
  assert.deepEqual(counts(r, '/b', 'default+plan:pro'), { allowed: 1, refused: 2 });
  assert.deepEqual(counts(r, '/a', 'default+plan:free'), { allowed: 1, refused: 1 });
  assert.deepEqual(counts(r, '/a', 'default'), { allowed: 2, refused: 1 });
  assert.equal(r.routes.find((x) => x.group === 'default+plan:pro')?.plan, 'pro');
  assert.deepEqual(r.top_refused, [
    { client: 'id:acme', refused: 2 },
    { client: 'id:trial', refused: 1 },
    { client: 'ip:10.0.0.9', refused: 1 },
  ]);
  assert.ok(!JSON.stringify(r).includes('random-') && !JSON.stringify(r).includes('acme-key'), 'no raw key in the report');
});

test('shadow limit: would-be refusals are counted apart and pass; the enforced limit still refuses', () => {
  const r = run(`routes:
  - path: /api
    upstream: ${UP}
    rate_limit:
      limits:
        - { requests_per_second: 0.001, burst: 2, mode: shadow }
        - { requests_per_second: 0.001, burst: 4 }
`, [0, 1, 2, 3, 4, 5].map((i) => get('10.0.0.1', i)));
  assert.deepEqual(counts(r, '/api', '/api'), { allowed: 2, shadow_limited: 2, refused: 2 });
});

test('deny, allow and require_api_key come before the limits, in the hook order', () => {
  const yaml = `rate_limit: { requests_per_second: 0.001, burst: 1 }
api_keys:
  - { id: acme, hash: "${hashApiKey('acme-key')}" }
  - { id: trial, hash: "${hashApiKey('trial-key')}" }
deny: [192.0.2.0/24, trial]
allow: [10.0.0.0/8]
routes:
  - { path: /api, upstream: ${UP} }
  - { path: /private, upstream: ${UP}, require_api_key: true }
  - { path: /open, upstream: ${UP}, rate_limit: false }
`;
  const r = run(yaml, [
    get('192.0.2.5', 0),
    get('10.0.0.1', 0, '/api/x', { key: 'trial-key' }), // deny (by id) wins over allow (by address)
    ...[1, 2, 3].map((i) => get('10.1.1.1', i)), // allowed list: never limited
    get('203.0.113.1', 4, '/private/x'),
    get('203.0.113.1', 5, '/private/x', { key: 'acme-key' }),
    get('203.0.113.1', 6, '/open/x'),
    get('203.0.113.1', 7, '/nowhere'),
    get('203.0.113.1', 8, '/api/%2f'), // the gateway answers 400
    get('203.0.113.1', 9, '/health'),
  ]);
  assert.deepEqual(counts(r, '/api', 'default'), { denied: 2, bypassed: 3 });
  assert.deepEqual(counts(r, '/private', 'default'), { invalid_api_key: 1, allowed: 1 });
  assert.deepEqual(counts(r, '/open', '-'), { unlimited: 1 });
  assert.deepEqual(counts(r, 'none', '-'), { unrouted: 3 });
});

test('concurrency: a slot is held for duration_ms from admission, and not at all without it', () => {
  const yaml = `rate_limit: { algorithm: concurrency, limit: 1 }\nroutes: [{ path: /api, upstream: ${UP} }]\n`;
  const r = run(yaml, [
    get('10.0.0.1', 0, '/api/x', { duration_ms: 100 }),
    get('10.0.0.1', 50), // the first still in flight
    get('10.0.0.1', 100), // released at 100, before this line
    get('10.0.0.1', 100),
  ]);
  assert.deepEqual(counts(r, '/api', 'default'), { allowed: 3, refused: 1 });
  const none = run(yaml, [0, 0, 0].map((at) => get('10.0.0.1', at)));
  assert.deepEqual(counts(none, '/api', 'default'), { allowed: 3 });
});

test('ISO times replay as their epoch instants; lines out of order are counted and replayed at the later instant', () => {
  const yaml = `rate_limit: { requests_per_second: 1, burst: 1 }\nroutes: [{ path: /api, upstream: ${UP} }]\n`;
  const r = run(yaml, [
    { time: new Date(T).toISOString(), method: 'get', path: '/api/x', ip: '10.0.0.1' },
    { time: new Date(T + 1000).toISOString(), method: 'GET', path: '/api/x', ip: '10.0.0.1' },
    { time: T + 500, method: 'GET', path: '/api/x', ip: '10.0.0.1' },
  ]);
  assert.deepEqual(counts(r, '/api', 'default'), { allowed: 2, refused: 1 });
  assert.equal(r.out_of_order, 1);
});
