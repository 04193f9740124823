import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { serve, writeConfig, type Served } from '../helpers/cli.js';
import { redisAvailable, startRedis, startRedisCluster, type RedisProcess } from '../helpers/redis.js';
import { flood } from '../helpers/flood.js';

/**
 * Accuracy across instances: three real gateway processes, one client
 * flooding all three round-robin at rate 20/s burst 10 for 5 s. On Redis the
 * total admitted is the configured limit; on three memory stores it is about
 * three times that, which is the reason to run Redis.
 */
const RATE = 20;
const BURST = 10;
const SECONDS = 5;

function configYaml(upstream: string, store: string): string {
  return `${store}rate_limit: { requests_per_second: ${RATE}, burst: ${BURST} }
routes:
  - path: /api
    upstream: ${upstream}
`;
}

async function threeGateways(yaml: string): Promise<Served[]> {
  const file = writeConfig(yaml);
  return Promise.all([0, 1, 2].map(() => serve(file)));
}

/** The store's state-change lines, for the test's diagnostics. */
function storeLines(gateways: Served[]): string {
  return gateways.flatMap((g) => g.output().split('\n').filter((l) => l.includes('"store"'))).join('\n');
}

async function stopAll(gateways: Served[]): Promise<void> {
  await Promise.all(gateways.map((g) => (g.child.kill('SIGTERM'), g.exited)));
}

function assertExact(allowed: number, seconds: number): void {
  const limit = RATE * seconds + BURST;
  assert.ok(allowed <= limit + 1, `over-admission: ${allowed} allowed, limit ${limit.toFixed(1)} for ${seconds.toFixed(2)} s`);
  assert.ok(allowed >= limit * 0.98, `under-admission: ${allowed} allowed, limit ${limit.toFixed(1)} for ${seconds.toFixed(2)} s`);
}

if (!redisAvailable()) {
  test('redis accuracy across instances', { skip: 'redis-server not on PATH (see the message above)' }, () => {});
} else {
  let upstream: TestUpstream;
  let redis: RedisProcess;
  before(async () => {
    upstream = await startUpstream();
    redis = await startRedis();
  });
  after(async () => Promise.all([upstream.close(), redis.stop()]));

  test('three gateways on one Redis admit exactly one limit', async (t) => {
    const store = `store:\n  type: redis\n  redis:\n    url: ${redis.url}\n    key_prefix: "tg:acc:${randomUUID().slice(0, 8)}:"\n    timeout_ms: 500\n    on_error: closed\n`;
    const gateways = await threeGateways(configYaml(upstream.url, store));
    t.after(() => stopAll(gateways));
    const result = await flood(gateways.map((g) => g.url), '/api/x', { 'x-api-key': 'flooder' }, SECONDS);
    t.diagnostic(`redis: ${result.allowed} allowed in ${result.seconds.toFixed(2)} s, statuses ${JSON.stringify([...result.statuses])}`);
    t.diagnostic(storeLines(gateways));
    assert.deepEqual([...result.statuses.keys()].sort(), [200, 429], 'only 200 and 429');
    assertExact(result.allowed, result.seconds);
  });

  test('three gateways on memory stores admit about three limits (why Redis)', async (t) => {
    const gateways = await threeGateways(configYaml(upstream.url, ''));
    t.after(() => stopAll(gateways));
    const result = await flood(gateways.map((g) => g.url), '/api/x', { 'x-api-key': 'flooder' }, SECONDS);
    const limit = RATE * result.seconds + BURST;
    t.diagnostic(`memory: ${result.allowed} allowed in ${result.seconds.toFixed(2)} s, ${(result.allowed / limit).toFixed(2)}x the limit`);
    assert.ok(result.allowed >= 2.5 * limit, `each instance limits alone: ${result.allowed} allowed, limit ${limit.toFixed(1)}`);
    assert.ok(result.allowed <= 3 * (limit + 1), `still limited per instance: ${result.allowed}`);
  });

  test('three gateways on a three-master Redis Cluster admit exactly one limit', async (t) => {
    const cluster = await startRedisCluster();
    t.after(() => cluster.stop());
    const urls = cluster.urls.map((u) => `      - ${u}`).join('\n');
    const store = `store:\n  type: redis\n  redis:\n    url:\n${urls}\n    key_prefix: "tg:cl:"\n    timeout_ms: 500\n    on_error: closed\n`;
    const gateways = await threeGateways(configYaml(upstream.url, store));
    t.after(() => stopAll(gateways));
    // Several clients, so buckets land on every master; one of them is measured.
    const [measured] = await Promise.all([
      flood(gateways.map((g) => g.url), '/api/x', { 'x-api-key': 'flooder' }, SECONDS),
      ...['a', 'b', 'c'].map((k) => flood(gateways.map((g) => g.url), '/api/x', { 'x-api-key': `other-${k}` }, SECONDS, 1)),
    ]);
    t.diagnostic(`cluster: ${measured.allowed} allowed in ${measured.seconds.toFixed(2)} s, statuses ${JSON.stringify([...measured.statuses])}`);
    t.diagnostic(storeLines(gateways));
    assert.deepEqual([...measured.statuses.keys()].sort(), [200, 429], 'only 200 and 429');
    assertExact(measured.allowed, measured.seconds);
  });
}
