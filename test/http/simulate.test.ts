import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { parseConfig } from '../../src/config/load.js';
import { hashApiKey } from '../../src/limit/api-keys.js';
import { monotonicClock } from '../../src/limit/stores/store.js';
import { simulate, type SimulationReport } from '../../src/admin/simulate.js';

// Rates of one token per 1000 s: nothing refills while the test runs, so the
// live outcome depends on the order of the requests alone, as the replay's does.
function configYaml(upstream: string): string {
  return `rate_limit: { requests_per_second: 0.001, burst: 3, key: [header:x-api-key, ip] }
plans:
  pro: { limits: [ { requests_per_second: 0.001, burst: 5 } ] }
api_keys:
  - { id: acme, hash: "${hashApiKey('acme-key')}", plan: pro }
  - { id: trial, hash: "${hashApiKey('trial-key')}" }
deny: [trial]
routes:
${routesYaml([
  { path: '/a', upstream },
  {
    path: '/b',
    upstream,
    extra: `rate_limit:
  key: [header:x-api-key, ip]
  limits:
    - { requests_per_second: 0.001, burst: 2 }
    - { requests_per_second: 0.001, burst: 6, scope: route }
    - { requests_per_second: 0.001, burst: 1, mode: shadow }`,
  },
  { path: '/c', upstream, extra: 'require_api_key: true' },
])}`;
}

// Anonymous, an unknown key (limited by its address: the anonymous client's bucket), a pro key, a denied key.
const CLIENTS: (string | undefined)[] = [undefined, 'bob-key', 'acme-key', 'trial-key'];
const PATHS = ['/a/x', '/b/y', '/c/z'];

/** Per route: requests answered 200 and 429, and each other status. */
type Tally = Record<string, Record<string, number>>;
function add(t: Tally, route: string, what: string): void {
  const r = (t[route] ??= {});
  r[what] = (r[what] ?? 0) + 1;
}

/** simulate's rows, summed over limit sets and named by status as the live gateway answers. */
function byStatus(r: SimulationReport): Tally {
  const t: Tally = {};
  for (const row of r.routes) {
    const passed = row.allowed + row.delayed + row.shadow_limited + row.bypassed + row.unlimited;
    const counts: [string, number][] = [['200', passed], ['429', row.refused], ['403', row.denied], ['401', row.invalid_api_key]];
    for (const [status, n] of counts) for (let i = 0; i < n; i++) add(t, row.route, status);
  }
  return t;
}

test("simulate's counts equal a live replay of the same log against a gateway with the same config", async (t) => {
  const up = await startUpstream();
  const yaml = configYaml(up.url);
  const gw = await startGateway(yaml);
  t.after(() => Promise.all([gw.close(), up.close()]));

  // A fixed pseudo-random mix, sent one at a time, in order, as fast as the gateway answers.
  let seed = 7;
  // An LCG's high bits: its low bits cycle too soon to mix paths and clients.
  const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), Math.floor((seed / 2 ** 31) * n));
  const log: string[] = [];
  const live: Tally = {};
  for (let i = 0; i < 90; i++) {
    const path = PATHS[next(PATHS.length)] as string;
    const key = CLIENTS[next(CLIENTS.length)];
    const headers = key === undefined ? {} : { 'x-api-key': key };
    // The gateway's own clock, read just before the request reaches it.
    log.push(JSON.stringify({ time: monotonicClock(), method: 'GET', path, ip: '127.0.0.1', headers }));
    const res = await send(gw.url, path, { headers });
    add(live, `/${path.split('/')[1]}`, String(res.status));
  }

  const config = parseConfig(yaml, 'test.yaml', {});
  const replay = simulate(config, log);
  assert.equal(replay.malformed, 0);
  assert.deepEqual(byStatus(replay), live);
  for (const route of ['/a', '/b']) assert.ok((live[route]?.['200'] ?? 0) > 0 && (live[route]?.['429'] ?? 0) > 0, `${route} both passes and refuses: ${JSON.stringify(live)}`);
  assert.ok((live['/c']?.['401'] ?? 0) > 0 && (live['/a']?.['403'] ?? 0) > 0, JSON.stringify(live));
  const shadow = replay.routes.filter((r) => r.route === '/b').reduce((n, r) => n + r.shadow_limited, 0);
  assert.ok(shadow > 0, 'the shadow limit on /b would have refused some');

  // The gateway's own access log of that run, replayed, decides alike, decision by decision.
  const lines = gw.accessLines();
  assert.equal(lines.length, 90);
  const logged: Tally = {};
  for (const l of lines) add(logged, String(l.route), l.decision === 'limited' ? 'refused' : String(l.decision));
  const fromOwnLog = simulate(config, lines.map((l) => JSON.stringify(l)));
  assert.equal(fromOwnLog.requests, 90);
  const decided: Tally = {};
  for (const row of fromOwnLog.routes) {
    for (const o of ['allowed', 'refused', 'shadow_limited', 'denied', 'invalid_api_key'] as const) for (let i = 0; i < row[o]; i++) add(decided, row.route, o);
  }
  assert.deepEqual(decided, logged);
  assert.deepEqual(byStatus(fromOwnLog), live);
});
