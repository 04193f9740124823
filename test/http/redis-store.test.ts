import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Cluster, Redis } from 'ioredis';
import { RedisStore, type RedisStoreEvents } from '../../src/limit/stores/redis.js';
import { CHECK_LUA, encodeRefund, encodeStamped, parseSteps, type ScriptReply } from '../../src/limit/stores/redis-script.js';
import type { LimitSpec } from '../../src/limit/algorithms/types.js';
import type { LimitStep } from '../../src/limit/stores/store.js';
import type { RedisStoreConfig } from '../../src/config/types.js';
import { createLogger } from '../../src/observability/logging.js';
import { runLimitSuite } from '../helpers/limit-suite.js';
import { checkOf, single, spec } from '../helpers/limits.js';
import { redisAvailable, startRedis, startRedisCluster, type RedisProcess } from '../helpers/redis.js';
import { CONTRACT_START, runStoreContract } from '../unit/store-contract.js';

/**
 * The Redis store against a real redis-server: the same limit suite and store
 * contract as the memory store, plus what only Redis has (script reload, key
 * expiry, leases, Cluster slots, starting while Redis is down). The contract
 * runs on a three-master Cluster too, where a check of several limits is
 * decided per key and compensated. REDIS_URL may name an existing server.
 */
if (!redisAvailable()) {
  test('redis store', { skip: 'redis-server not on PATH (see the message above)' }, () => {});
} else {
  let server: RedisProcess | undefined;
  let url = process.env.REDIS_URL ?? '';
  let admin: Redis;
  // One Cluster for every Cluster test of this file, started on first use.
  let cluster: ReturnType<typeof startRedisCluster> | undefined;
  const clusterUrls = async () => (await (cluster ??= startRedisCluster())).urls;
  before(async () => {
    if (url === '') {
      server = await startRedis();
      url = server.url;
    }
    admin = new Redis(url);
  });
  after(async () => {
    await admin.quit();
    await server?.stop();
    await (await cluster)?.stop();
  });

  // A fresh key prefix per gateway or store: tests never see each other's state.
  const prefix = () => `tg:test:${randomUUID().slice(0, 8)}:`;
  const storeYaml = () => `store:\n  type: redis\n  redis:\n    url: ${url}\n    key_prefix: "${prefix()}"\n    timeout_ms: 500\n    on_error: closed\n`; // a fallback would answer 503: every pass is Redis

  const silent = () => createLogger('silent', new Writable({ write: (_c, _e, done) => done() }));
  const noEvents: RedisStoreEvents = { onError: () => {}, onStateChange: () => {}, onLocalDenial: () => {} };
  const redisConfig = (overrides: Partial<RedisStoreConfig> = {}): RedisStoreConfig => ({
    urls: [url],
    cluster: false,
    keyPrefix: prefix(),
    timeoutMs: 500,
    onError: 'local',
    ...overrides,
  });
  const memory = { maxKeys: 1000, sweepIntervalMs: 1000 };
  /** On Redis's clock (TIME), as in production. */
  const newStore = async (overrides: Partial<RedisStoreConfig> = {}, events = noEvents) => {
    const store = new RedisStore(redisConfig(overrides), { memory, logger: silent(), events });
    await store.whenReady();
    return store;
  };
  /** On an injected clock passed to the script: exact timelines against real Redis. */
  const virtualStore = async (overrides: Partial<RedisStoreConfig> = {}, events = noEvents) => {
    let now = CONTRACT_START;
    const config = redisConfig(overrides);
    const store = new RedisStore(config, { memory, logger: silent(), events, clock: () => now, serverTime: false });
    await store.whenReady();
    return { store, keyPrefix: config.keyPrefix, advance: (ms: number) => void (now += ms), close: () => store.close() };
  };

  /** The same, on the shared Cluster; on_error closed, so a script or slot error cannot pass for a decision. */
  const virtualCluster = async (events = noEvents) => virtualStore({ urls: await clusterUrls(), cluster: true, onError: 'closed' }, events);
  const clusterClient = async () => new Cluster((await clusterUrls()).map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) })));

  runLimitSuite('redis store', storeYaml);

  runStoreContract('redis store', () => virtualStore());

  runStoreContract('redis store on a cluster', () => virtualCluster());

  test('redis store: decisions come from Redis, not the local fallback', async () => {
    const store = await newStore();
    assert.equal(store.health(), 'ok');
    const o = await store.check(single(spec('shared', { rate: 1, capacity: 2 }), 'c'));
    assert.equal(o.reason, undefined);
    assert.equal(store.size(), 0, 'no local state while Redis answers');
    await store.close();
  });

  test('redis store: two stores on one prefix share one bucket (two gateway instances)', async () => {
    const keyPrefix = prefix();
    const a = await newStore({ keyPrefix });
    const b = await newStore({ keyPrefix });
    const c = single(spec('two', { rate: 0.1, capacity: 3 }), 'client');
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await (i % 2 === 0 ? a : b).check(c));
    assert.deepEqual(answers.map((o) => o.allowed), [true, true, true, false]);
    assert.deepEqual(answers.map((o) => o.steps[0]!.remaining), [2, 1, 0, 0]);
    await Promise.all([a.close(), b.close()]);
  });

  test('redis store: concurrent checks of one client in one batch see each other', async () => {
    const store = await newStore();
    const c = single(spec('batch', { rate: 0.1, capacity: 3 }), 'same');
    // Asked in one turn, so one script call carries all five (redis-batch.ts).
    const answers = await Promise.all([0, 1, 2, 3, 4].map(() => store.check(c)));
    assert.deepEqual(answers.map((o) => o.allowed), [true, true, true, false, false]);
    assert.deepEqual(answers.map((o) => o.steps[0]!.remaining), [2, 1, 0, 0, 0]);
    const other = await Promise.all([store.check(single(c.limits[0]!, 'other')), store.check(single(spec('batch-2', { rate: 0.1, capacity: 1 }), 'same'))]);
    assert.deepEqual(other.map((o) => o.allowed), [true, true], 'other states in the same call are independent');
    await store.close();
  });

  test('redis store: a flushed script cache is reloaded (NOSCRIPT) without a refusal', async () => {
    const store = await newStore();
    const c = single(spec('noscript', { rate: 1, capacity: 5 }), 'c');
    assert.equal((await store.check(c)).allowed, true);
    await admin.script('FLUSH');
    const later = await store.check(c);
    assert.equal(later.allowed, true);
    assert.equal(later.reason, undefined, 'answered by Redis, not by on_error');
    assert.equal(later.steps[0]!.remaining, 3, 'the bucket survived the script flush');
    await store.close();
  });

  test('redis store: a key expires when its state decides as a new one would, and holds exact numbers', async () => {
    const { store, keyPrefix, close } = await virtualStore();
    await store.check(single(spec('ttl', { rate: 2, capacity: 4 }), 'c')); // one token short: full again in 500 ms
    const keys = await admin.keys(`${keyPrefix}*`);
    assert.deepEqual(keys, [`${keyPrefix}{ttl:c}`], 'one key, with the cluster hash tag');
    assert.equal(await admin.get(keys[0]!), `3:${CONTRACT_START}`, '[tokens, at] as %.17g numbers');
    const ttl = await admin.pttl(keys[0]!);
    assert.ok(ttl > 0 && ttl <= 500, `PTTL ${ttl} ms`);
    await close();
  });

  test('redis store: a check of several limits that one refuses stores nothing for the others', async () => {
    const { store, keyPrefix, close } = await virtualStore();
    const wide = spec('wide', { rate: 1, capacity: 5 });
    const narrow = spec('narrow', { rate: 1, capacity: 1 });
    const pair = checkOf('pair', [wide, narrow], ['c', 'c']);
    const first = await store.check(pair);
    assert.equal(first.allowed, true);
    assert.deepEqual(first.steps.map((s) => s.remaining), [4, 0]);
    const refused = await store.check(pair);
    assert.equal(refused.allowed, false);
    assert.deepEqual(refused.steps.map((s) => s.allowed), [true, false], 'the wide limit alone would allow');
    assert.equal(await admin.get(`${keyPrefix}{wide:c}`), `4:${CONTRACT_START}`, 'the first check only');
    assert.equal((await store.check(single(wide, 'c'))).steps[0]!.remaining, 3);
    await close();
  });

  test('redis store: concurrency: leases taken, refused at capacity, released once each', async () => {
    const { store, keyPrefix, close } = await virtualStore();
    const slots = spec('slots', { algorithm: 'concurrency', rate: 0, capacity: 2, windowMs: 0 });
    const c = single(slots, 'c');
    const [a, b] = [await store.check(c), await store.check(c)];
    assert.deepEqual([a.allowed, b.allowed], [true, true]);
    assert.deepEqual([a.steps[0]!.remaining, b.steps[0]!.remaining], [1, 0]);
    const refused = await store.check(c);
    assert.equal(refused.allowed, false);
    assert.equal(refused.steps[0]!.retryAfterMs, 1000);
    assert.equal(refused.release, undefined);
    assert.equal(await admin.zcard(`${keyPrefix}{slots:c}`), 2, 'one lease per admitted request');
    a.release!();
    a.release!(); // idempotent: must not free b's lease
    const next = await store.check(c); // after the ZREM: one connection keeps the order
    assert.equal(next.allowed, true);
    assert.equal((await store.check(c)).allowed, false, 'one slot came back, not two');
    const leases = await admin.zrange(`${keyPrefix}{slots:c}`, '0', '-1', 'WITHSCORES');
    assert.equal(leases.length, 4, 'b and next hold leases');
    assert.equal(Number(leases[1]), CONTRACT_START + 60_000, 'score: the instant the lease expires');
    b.release!();
    next.release!();
    await store.check(single(spec('sync'), 'c')); // a round trip after the ZREMs
    assert.equal(await admin.exists(`${keyPrefix}{slots:c}`), 0, 'no lease left, no key left');
    await close();
  });

  test('redis store: concurrency: the leases of a crashed instance expire and free their slots', async () => {
    const keyPrefix = prefix();
    const slots = spec('crash', { algorithm: 'concurrency', rate: 0, capacity: 1, windowMs: 0, leaseMs: 200 });
    const crashed = await newStore({ keyPrefix });
    assert.equal((await crashed.check(single(slots, 'c'))).allowed, true);
    await crashed.close(); // dies holding its slot: never released
    const survivor = await newStore({ keyPrefix });
    assert.equal((await survivor.check(single(slots, 'c'))).allowed, false, 'the slot is still held');
    const ttl = await admin.pttl(`${keyPrefix}{crash:c}`);
    assert.ok(ttl > 0 && ttl <= 200, `the lease set expires with its last lease: PTTL ${ttl}`);
    await new Promise((r) => setTimeout(r, 250));
    const freed = await survivor.check(single(slots, 'c'));
    assert.equal(freed.allowed, true, 'the expired lease no longer counts');
    freed.release!();
    await survivor.close();
  });

  test('redis store: a refused limit is refused locally until the same request would pass (over-limit cache)', async () => {
    let localDenials = 0;
    const events = { ...noEvents, onLocalDenial: () => void localDenials++ };
    const { store, advance, close } = await virtualStore({}, events);
    const flood = spec('flood', { rate: 0.5, capacity: 2 });
    const c = single(flood, 'f');
    await store.check(c);
    await store.check(c);
    const first = await store.check(c);
    assert.equal(first.allowed, false);
    assert.equal(first.steps[0]!.retryAfterMs, 2000);
    advance(500);
    const local = store.check(c);
    assert.ok(!(local instanceof Promise), 'answered without a round trip to Redis');
    assert.equal(local.allowed, false);
    assert.equal(local.steps[0]!.retryAfterMs, 1500, 'the wait Redis gave, run down');
    assert.equal(localDenials, 1);
    const shared = store.check(checkOf('with-other', [spec('other', { capacity: 9 }), flood], ['f', 'f']));
    assert.ok(!(shared instanceof Promise));
    assert.deepEqual(shared.steps.map((s) => s.allowed), [true, false], 'the cached limit refuses a check of several');
    const cheaper = store.check(single(flood, 'f', 0.5));
    assert.ok(cheaper instanceof Promise, 'a cheaper request is asked again: it may fit sooner');
    assert.equal((await cheaper).allowed, false);
    advance(1500);
    const due = await store.check(c);
    assert.equal(due.allowed, true, 'asked again at the instant the token is due');
    await close();
  });

  test('redis store: Redis down at start: the store starts, follows on_error, and connects when Redis appears', async () => {
    const later = await startRedis();
    await later.stop();
    const started = Date.now();
    const store = new RedisStore(redisConfig({ urls: [later.url], onError: 'closed' }), { memory, logger: silent(), events: noEvents });
    await store.whenReady();
    assert.ok(Date.now() - started < 2000, 'does not wait for Redis forever');
    assert.equal(store.health(), 'down');
    const c = single(spec('late', { rate: 1, capacity: 1 }), 'c');
    const refused = await store.check(c);
    assert.equal(refused.allowed, false);
    assert.equal(refused.reason, 'store_unavailable');
    assert.deepEqual(refused.steps, [{ allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 1000 }]);
    await later.start();
    const deadline = Date.now() + 3000;
    while (store.health() !== 'ok' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(store.health(), 'ok', 'reconnected without a restart');
    assert.equal((await store.check(c)).allowed, true);
    await store.close();
    await later.stop();
  });

  test('redis store: Redis down: on_error open allows without numbers, local limits in memory', async () => {
    const down = await startRedis();
    await down.stop();
    const c = single(spec('down', { rate: 1, capacity: 1 }), 'c');
    const open = new RedisStore(redisConfig({ urls: [down.url], onError: 'open' }), { memory, logger: silent(), events: noEvents });
    const local = new RedisStore(redisConfig({ urls: [down.url], onError: 'local' }), { memory, logger: silent(), events: noEvents });
    const opened = await open.check(c);
    assert.deepEqual([opened.allowed, opened.reason, opened.steps[0]!.remaining], [true, 'store_unavailable', 0]);
    assert.deepEqual([(await local.check(c)).allowed, (await local.check(c)).allowed], [true, false], 'the memory store limits');
    assert.equal(local.size(), 1);
    await Promise.all([open.close(), local.close()]);
  });

  test('redis store: on a Cluster, a check of several limits and scope keys is decided per key (no CROSSSLOT), on Redis TIME', async (t) => {
    const urls = await clusterUrls();
    const store = await newStore({ urls, cluster: true, onError: 'closed' }); // a script error would be store_unavailable
    t.after(() => store.close());
    const perClient = spec('cl-client', { rate: 0.1, capacity: 2 });
    const perRoute = spec('cl-route', { rate: 0.1, capacity: 3, scope: 'route' });
    const slots = spec('cl-slots', { algorithm: 'concurrency', rate: 0, capacity: 5, windowMs: 0 });
    const forClient = (client: string) => checkOf('cl-group', [perClient, perRoute, slots], [client, 'route:/api', client]);
    const seen = [];
    for (const client of ['alice', 'alice', 'alice', 'bob', 'carol']) seen.push(await store.check(forClient(client)));
    assert.deepEqual(seen.map((o) => o.reason), Array(5).fill(undefined), 'every check answered by Redis');
    assert.deepEqual(seen.map((o) => o.allowed), [true, true, false, true, false], 'alice refused by her own limit (the route commit given back), carol by the route');
    for (const o of seen) o.release?.();
    // Single-limit checks keep their per-client hash tag, spread over the masters.
    const singles = await Promise.all(['a', 'b', 'c', 'd'].map((k) => store.check(single(perClient, k))));
    assert.deepEqual(singles.map((o) => [o.allowed, o.reason]), Array(4).fill([true, undefined]));
    // A restarted node has no scripts: NOSCRIPT is answered by one EVAL, not by on_error.
    await Promise.all(urls.map(async (u) => {
      const node = new Redis(u);
      await node.script('FLUSH');
      await node.quit();
    }));
    const afterFlush = await store.check(forClient('dave'));
    assert.deepEqual([afterFlush.allowed, afterFlush.reason], [false, undefined], 'the route budget, still in Redis');
  });

  test('redis store: on a Cluster, a route limit is one budget across checks of different groups (regression: a key per group)', async (t) => {
    const { store, keyPrefix, close } = await virtualCluster();
    const nodes = await clusterClient();
    t.after(() => Promise.all([close(), nodes.quit()]));
    const perClient = spec('sh-client', { rate: 0.1, capacity: 1 });
    const perPlan = spec('sh-plan', { rate: 0.1, capacity: 5 });
    const perRoute = spec('sh-route', { rate: 0.1, capacity: 3, scope: 'route' });
    const anonymous = checkOf('/api', [perClient, perRoute], ['alice', 'route:/api']);
    const plan = checkOf('/api+plan:pro', [perPlan, perRoute], ['bob', 'route:/api']);
    const first = await store.check(anonymous);
    assert.deepEqual([first.allowed, first.steps[1]!.remaining], [true, 2]);
    const refused = await store.check(anonymous);
    assert.equal(refused.allowed, false, "alice's own limit refuses");
    assert.deepEqual(refused.steps.map((s) => [s.allowed, s.remaining]), [[false, 0], [true, 1]], 'the steps as decided, as standalone reports them');
    const other = await store.check(plan);
    assert.deepEqual([other.allowed, other.steps[1]!.remaining], [true, 1], "another group spends the same route budget, alice's refusal given back");
    assert.equal((await store.check(single(perRoute, 'route:/api'))).steps[0]!.remaining, 0, 'a check of the route limit alone: the same key again');
    const spent = await store.check(plan);
    assert.deepEqual(spent.steps.map((s) => s.allowed), [true, false], 'the route refuses the plan check');
    assert.equal(await nodes.get(`${keyPrefix}{sh-route:route:/api}`), `0:${CONTRACT_START}`, 'one key for the route limit: three taken');
    assert.equal(await nodes.get(`${keyPrefix}{sh-plan:bob}`), `4:${CONTRACT_START}`, "bob's one admitted request; the refused one's commit given back");
  });

  test('redis store: on a Cluster, a refused check gives back every commit, for every algorithm', async (t) => {
    const { store, advance, close } = await virtualCluster();
    t.after(close);
    // A concurrency blocker: its refusals are never cached, so every check below reaches Redis.
    const blocker = spec('rf-blocker', { algorithm: 'concurrency', rate: 0, capacity: 1, windowMs: 0 });
    const held = await store.check(single(blocker, 'c'));
    const kinds: Array<Partial<LimitSpec>> = [
      { algorithm: 'token_bucket' },
      { algorithm: 'gcra' },
      { algorithm: 'fixed_window', windowMs: 1000 },
      { algorithm: 'sliding_window', windowMs: 1000 },
      { algorithm: 'concurrency', rate: 0, windowMs: 0 },
    ];
    for (const kind of kinds) {
      const limit = spec(`rf-${kind.algorithm}`, { rate: 2, capacity: 2, ...kind });
      const twin = spec(`rf-${kind.algorithm}-twin`, { rate: 2, capacity: 2, ...kind });
      const before = [await store.check(single(limit, 'c')), await store.check(single(twin, 'c'))];
      advance(100);
      const refused = await store.check(checkOf('rf', [limit, blocker], ['c', 'c']));
      assert.deepEqual(refused.steps.map((s) => s.allowed), [true, false], `${kind.algorithm}: its own step allowed`);
      assert.equal(refused.release, undefined);
      advance(100);
      const [a, b] = [await store.check(single(limit, 'c')), await store.check(single(twin, 'c'))];
      assertSame(a.steps[0]!, b.steps[0]!, `${kind.algorithm}: as if the refused check had never been`);
      for (const o of [...before, a, b]) o.release?.();
    }
    held.release!();
  });

  test('redis store: on a Cluster, a cached refusal is trusted for three timeouts at most (refunds may be in flight)', async (t) => {
    const { store, advance, close } = await virtualCluster();
    t.after(close);
    const c = single(spec('hold', { algorithm: 'fixed_window', rate: 1 / 60, capacity: 1, windowMs: 60_000 }), 'c');
    await store.check(c);
    assert.equal((await store.check(c)).steps[0]!.retryAfterMs, 60_000);
    assert.ok(!(store.check(c) instanceof Promise), 'refused locally at first');
    advance(1500); // 3 x timeout_ms
    const asked = store.check(c);
    assert.ok(asked instanceof Promise, 'then Redis is asked again, long before the window ends');
    assert.equal((await asked).allowed, false);
  });

  test('redis store: a refund gives back what the commit still holds, never more (later writes, window boundaries)', async () => {
    const base = prefix();
    const stepAt = async (key: string, limit: LimitSpec, at: number) => {
      const reply = (await admin.eval(CHECK_LUA, 1, key, ...encodeStamped(single(limit, 'x'), 0, CONTRACT_START + at, ''))) as ScriptReply;
      return { step: parseSteps(reply, 0, 1)[0]!, at: String(reply[4]) };
    };
    const bucket = { rate: 1, capacity: 5 };
    const window = { rate: 2, capacity: 2, windowMs: 1000 };
    // A commit on one key, then maybe a write on it and on its twin, a refund, and both asked again.
    // exact: the refunded key decides as its twin; otherwise it may only be stricter.
    const cases: Array<[string, Partial<LimitSpec>, { commit: number; write?: number; refund: number; exact: boolean }]> = [
      ['token_bucket, untouched since the commit', bucket, { commit: 0, refund: 200, exact: true }],
      // Without the commit the bucket was full at the write: the 0.1 token refilled meanwhile is not given back.
      ['token_bucket, written while it would have been full', bucket, { commit: 0, write: 100, refund: 200, exact: true }],
      ['gcra, untouched since the commit', { algorithm: 'gcra', ...bucket }, { commit: 0, refund: 200, exact: true }],
      ['gcra, written while it would have been full', { algorithm: 'gcra', ...bucket }, { commit: 0, write: 100, refund: 200, exact: false }],
      ['fixed_window, refunded in the next window', { algorithm: 'fixed_window', ...window }, { commit: 999, refund: 1001, exact: true }],
      ['sliding_window, refunded in the next window', { algorithm: 'sliding_window', ...window }, { commit: 999, refund: 1001, exact: true }],
      ['sliding_window, rolled over by a write in the next window', { algorithm: 'sliding_window', ...window }, { commit: 999, write: 1000.5, refund: 1001, exact: true }],
    ];
    for (const [what, kind, { commit, write, refund, exact }] of cases) {
      const limit = spec('refund', kind);
      const [key, twinKey] = [`${base}${what}`, `${base}${what}:twin`];
      const committed = await stepAt(key, limit, commit);
      assert.equal(committed.step.allowed, true, what);
      if (write !== undefined) await Promise.all([stepAt(key, limit, write), stepAt(twinKey, limit, write)]);
      assert.equal(await admin.eval(CHECK_LUA, 1, key, ...encodeRefund(limit, 1, CONTRACT_START + refund, committed.at, committed.step.resetMs, '')), 1, `${what}: refunded`);
      const ttl = await admin.pttl(key);
      assert.notEqual(ttl, -1, `${what}: the refunded state keeps an expiry`);
      const [got, twin] = [(await stepAt(key, limit, refund)).step, (await stepAt(twinKey, limit, refund)).step];
      if (exact) assertSame(got, twin, what);
      else {
        assert.ok(got.remaining <= twin.remaining && got.resetMs >= twin.resetMs - 1e-6, `${what}: never looser: ${JSON.stringify([got, twin])}`);
        assert.ok(got.resetMs > twin.resetMs, `${what}: here, stricter by what refilled before the write`);
      }
    }
  });
}

/** Two steps alike, up to the last bits of the ms (a refunded state may sit on another time base). */
function assertSame(got: LimitStep, want: LimitStep, what: string): void {
  const msg = `${what}: ${JSON.stringify(got)} vs ${JSON.stringify(want)}`;
  assert.deepEqual([got.allowed, got.remaining], [want.allowed, want.remaining], msg);
  assert.ok(Math.abs(got.resetMs - want.resetMs) < 1e-6 && Math.abs(got.retryAfterMs - want.retryAfterMs) < 1e-6, msg);
}
