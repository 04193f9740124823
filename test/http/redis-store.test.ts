import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { RedisStore } from '../../src/limit/stores/redis.js';
import type { RedisStoreConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/observability/logging.js';
import { runLimitSuite } from '../helpers/limit-suite.js';
import { redisAvailable, startRedis, type RedisProcess } from '../helpers/redis.js';
import { policy, runStoreContract } from '../unit/store-contract.js';

/**
 * The Redis store against a real redis-server: the same limit suite and store
 * contract as the memory store, plus what only Redis has (script reload, key
 * expiry, starting while Redis is down). REDIS_URL may name an existing server.
 */
if (!redisAvailable()) {
  test('redis store', { skip: 'redis-server not on PATH (see the message above)' }, () => {});
} else {
  let server: RedisProcess | undefined;
  let url = process.env.REDIS_URL ?? '';
  before(async () => {
    if (url === '') {
      server = await startRedis();
      url = server.url;
    }
  });
  after(async () => server?.stop());

  // A fresh key prefix per gateway or store: tests never see each other's buckets.
  const prefix = () => `tg:test:${randomUUID().slice(0, 8)}:`;
  const storeYaml = () => `store:\n  type: redis\n  redis:\n    url: ${url}\n    key_prefix: "${prefix()}"\n    timeout_ms: 500\n    on_error: closed\n`; // a fallback would answer 503: every pass is Redis

  const silent = () => createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
  const noEvents = { onError: () => {}, onStateChange: () => {}, onLocalDenial: () => {} };
  const redisConfig = (overrides: Partial<RedisStoreConfig> = {}): RedisStoreConfig => ({
    urls: [url],
    cluster: false,
    keyPrefix: prefix(),
    timeoutMs: 500,
    onError: 'local',
    ...overrides,
  });
  const newStore = async (overrides: Partial<RedisStoreConfig> = {}) => {
    const store = new RedisStore(redisConfig(overrides), { memory: { maxKeys: 1000, sweepIntervalMs: 1000 }, logger: silent(), events: noEvents });
    await store.whenReady();
    return store;
  };

  runLimitSuite('redis store', storeYaml);

  runStoreContract('redis store', async () => {
    const store = await newStore();
    // Redis keeps time with its own clock (TIME in the script): time is advanced by waiting.
    return { store, advance: (ms: number) => new Promise<void>((r) => setTimeout(r, ms)), close: () => store.close() };
  });

  test('redis store: decisions come from Redis, not the local fallback', async () => {
    const store = await newStore();
    assert.equal(store.health(), 'ok');
    const p = policy('shared', 1, 2);
    const d = await store.consume(p, 'c');
    assert.equal(d.reason, undefined);
    assert.equal(store.size(), 0, 'no local buckets while Redis answers');
    await store.close();
  });

  test('redis store: two stores on one prefix share one bucket (two gateway instances)', async () => {
    const keyPrefix = prefix();
    const a = await newStore({ keyPrefix });
    const b = await newStore({ keyPrefix });
    const p = policy('two', 0.1, 3);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await (i % 2 === 0 ? a : b).consume(p, 'client'));
    assert.deepEqual(answers.map((d) => d.allowed), [true, true, true, false]);
    assert.deepEqual(answers.map((d) => d.remaining), [2, 1, 0, 0]);
    await Promise.all([a.close(), b.close()]);
  });

  test('redis store: concurrent decisions of one client in one batch see each other', async () => {
    const store = await newStore();
    const p = policy('batch', 0.1, 3);
    // Asked in one turn, so one script call carries all five (redis-batch.ts).
    const answers = await Promise.all([0, 1, 2, 3, 4].map(() => store.consume(p, 'same')));
    assert.deepEqual(answers.map((d) => d.allowed), [true, true, true, false, false]);
    assert.deepEqual(answers.map((d) => d.remaining), [2, 1, 0, 0, 0]);
    const other = await Promise.all([store.consume(p, 'other'), store.consume(policy('batch-2', 0.1, 1), 'same')]);
    assert.deepEqual(other.map((d) => d.allowed), [true, true], 'other buckets in the same call are independent');
    await store.close();
  });

  test('redis store: a flushed script cache is reloaded (NOSCRIPT) without a refusal', async () => {
    const store = await newStore();
    const p = policy('noscript', 1, 5);
    assert.equal((await store.consume(p, 'c')).allowed, true);
    const admin = new Redis(url);
    await admin.script('FLUSH');
    const after = await store.consume(p, 'c');
    assert.equal(after.allowed, true);
    assert.equal(after.reason, undefined, 'answered by Redis, not by on_error');
    assert.equal(after.remaining, 3, 'the bucket survived the script flush');
    await admin.quit();
    await store.close();
  });

  test('redis store: a bucket key expires when the bucket would be full again', async () => {
    const keyPrefix = prefix();
    const store = await newStore({ keyPrefix });
    await store.consume(policy('ttl', 2, 4), 'c'); // one token short: full again in 500 ms
    const admin = new Redis(url);
    const keys = await admin.keys(`${keyPrefix}*`);
    assert.deepEqual(keys, [`${keyPrefix}{ttl:c}`], 'one key, with the cluster hash tag');
    const ttl = await admin.pttl(keys[0] as string);
    assert.ok(ttl > 0 && ttl <= 500, `PTTL ${ttl} ms`);
    await admin.quit();
    await store.close();
  });

  test('redis store: a refused client is refused locally until its token is due (over-limit cache)', async () => {
    const store = await newStore();
    const p = policy('flood', 0.5, 1);
    assert.equal((await store.consume(p, 'f')).allowed, true);
    const first = await store.consume(p, 'f');
    assert.equal(first.allowed, false);
    const local = store.consume(p, 'f');
    assert.ok(!(local instanceof Promise), 'answered without a round trip to Redis');
    assert.equal(local.allowed, false);
    assert.equal(local.retryAfterSeconds, first.retryAfterSeconds, 'same Retry-After as Redis said');
    await store.close();
  });

  test('redis store: Redis down at start: the store starts, follows on_error, and connects when Redis appears', async () => {
    const later = await startRedis();
    await later.stop();
    const started = Date.now();
    const store = new RedisStore(redisConfig({ urls: [later.url], onError: 'closed' }), {
      memory: { maxKeys: 1000, sweepIntervalMs: 1000 },
      logger: silent(),
      events: noEvents,
    });
    await store.whenReady();
    assert.ok(Date.now() - started < 2000, 'does not wait for Redis forever');
    assert.equal(store.health(), 'down');
    const refused = await store.consume(policy('late', 1, 1), 'c');
    assert.equal(refused.allowed, false);
    assert.equal(refused.reason, 'store_unavailable');
    await later.start();
    const deadline = Date.now() + 3000;
    while (store.health() !== 'ok' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.health(), 'ok', 'reconnected without a restart');
    assert.equal((await store.consume(policy('late', 1, 1), 'c')).allowed, true);
    await store.close();
    await later.stop();
  });
}
