import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';
import { MemoryStore } from '../../src/limit/stores/memory.js';

// A full memory store: a flood of fresh keys fills store.memory.max_keys. States that carry no information
// (full again) make room for newcomers; only when every state still limits someone is a newcomer refused, and
// the operator is told (metric, and a warn line at most once a minute). A drained client stays limited throughout.
//
// The envelope is off: these clients are keys, and its address state would take a place of its own.
const POLICY = 'key: [header:x-api-key, ip], unverified_key_envelope: false';
const FAST = 'rate_limit: { requests_per_second: 1, burst: 1 }'; // full again 1 s after a request
const SLOW = 'rate_limit: { requests_per_second: 0.001, burst: 1 }'; // full again 1000 s after one

async function setup(t: { after(fn: () => Promise<unknown>): void }, head: string, options: { store?: MemoryStore } = {}) {
  const up = await startUpstream();
  const routes = routesYaml([
    { path: '/fast', upstream: up.url, extra: FAST },
    { path: '/slow', upstream: up.url, extra: SLOW },
  ]);
  const gw = await startGateway(`${head}rate_limit: { requests_per_second: 1, burst: 1, ${POLICY} }\nroutes:\n${routes}`, options);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const as = (key: string, path: string): Promise<RawResponse> => send(gw.url, `${path}/x`, { headers: { 'x-api-key': key } });
  return { gw, as };
}

test('a store full of buckets that refilled serves newcomers; a drained client stays limited', async (t) => {
  // The store's clock is driven by the test, so "full again" does not depend on how fast this machine is.
  let now = Date.UTC(2026, 0, 1);
  const store = new MemoryStore({ maxKeys: 4, sweepIntervalMs: 3_600_000 }, { clock: () => now, autoSweep: false });
  const { as } = await setup(t, '', { store });
  assert.deepEqual([(await as('victim', '/slow')).status, (await as('victim', '/slow')).status], [200, 429], 'the victim spent its budget');
  for (const key of ['k1', 'k2', 'k3']) assert.equal((await as(key, '/fast')).status, 200);
  assert.equal(store.size(), 4, 'the store is at max_keys');

  const early = await as('n1', '/fast');
  assert.equal(early.status, 429, 'nothing is full again yet: every state still limits someone');
  assert.equal(early.json().error, 'rate_limited');
  assert.equal(early.headers['retry-after'], '1', 'until the first bucket is full again');

  now += 1000; // k1..k3 are full again: each equals no state at all
  for (const key of ['n1', 'n2', 'n3']) assert.equal((await as(key, '/fast')).status, 200, `${key} takes the place of a refilled bucket`);
  assert.equal(store.size(), 4, 'memory stays flat');
  assert.equal((await as('n4', '/fast')).status, 429, 'now every state limits someone again');
  assert.equal((await as('victim', '/slow')).status, 429, 'the flood could not reset the victim');
});

test('when every state still limits someone, newcomers are refused; the operator gets the metric and one warn line', async (t) => {
  // Nothing refills for 1000 s, so nothing here depends on the machine's speed; the sweeper never runs.
  const { gw, as } = await setup(t, 'store:\n  memory: { max_keys: 3, sweep_interval_ms: 3600000 }\n');
  for (const key of ['k1', 'k2', 'k3']) assert.equal((await as(key, '/slow')).status, 200);
  const refused: RawResponse[] = [];
  for (const key of ['n1', 'n2', 'n3', 'n4', 'n5']) refused.push(await as(key, '/slow'));
  assert.deepEqual(refused.map((r) => r.status), [429, 429, 429, 429, 429]);
  const wait = Number(refused[0]?.headers['retry-after']);
  assert.ok(wait > 900 && wait <= 1000, `Retry-After: until the first state is full again (about 1000 s): ${wait}`);
  assert.equal((await as('k1', '/slow')).status, 429, 'a held client meets its own limit, not the cap');

  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_store_capacity_refusals_total'), 5, 'every refused newcomer is counted, no held client');
  const warns = gw.logs.filter((l) => l.event === 'store_full');
  assert.equal(warns.length, 1, 'one warn line, not one per request');
  assert.equal(warns[0]?.level, 40);
  assert.equal(warns[0]?.max_keys, 3);
  assert.match(String(warns[0]?.msg), /store\.memory\.max_keys/);
});
