import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import cluster from 'node:cluster';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { MemoryStore } from '../../src/limit/stores/memory.js';
import type { LimitSpec } from '../../src/limit/algorithms/types.js';
import type { LimitCheck, LimitOutcome, LimitStore } from '../../src/limit/stores/store.js';
import { GRANT_MS, MAX_GRANT, type Holding } from '../../src/cluster/grants.js';
import { portChannel, workerChannel, type Channel } from '../../src/cluster/channel.js';
import { IpcStore } from '../../src/cluster/store-client.js';
import { serveStore } from '../../src/cluster/store-server.js';
import { decodeOutcome, encodeOutcome } from '../../src/cluster/store-protocol.js';
import { single, spec } from '../helpers/limits.js';

/** One primary MemoryStore on an injected clock; each connect() is one worker over a real MessageChannel. */
function primary(t: TestContext) {
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  const store = new MemoryStore({ maxKeys: 1000, sweepIntervalMs: 1000 }, { clock, autoSweep: false });
  // Every message the primary's side receives, from every worker.
  const received: unknown[] = [];
  // Every spec object the store is handed: the primary interns equal limits to one.
  const specsSeen = new Set<LimitSpec>();
  const seeing: LimitStore & Holding = {
    check: (c, options) => (c.limits.forEach((s) => specsSeen.add(s)), store.check(c, options)),
    holds: (c) => store.holds(c),
    hold: (c: LimitCheck, units: number) => store.hold(c, units),
    unhold: (c: LimitCheck, units: number, unspent: number) => store.unhold(c, units, unspent),
    size: () => store.size(),
    health: () => store.health(),
    close: () => store.close(),
  };
  t.after(() => store.close());
  function connect() {
    const { port1, port2 } = new MessageChannel();
    const base = portChannel(port1);
    const counted: Channel = { ...base, onMessage: (listener) => base.onMessage((m) => (received.push(m), listener(m))) };
    const server = serveStore(seeing, counted, clock);
    const client = new IpcStore(portChannel(port2), { clock });
    t.after(() => {
      void client.close();
      server.close();
      port1.close();
    });
    return { client, server, port: port1, workerPort: port2 };
  }
  return { store, connect, received, specsSeen, advance: (ms: number) => void (now += ms) };
}

const allowed = (outcomes: LimitOutcome[]) => outcomes.filter((o) => o.allowed).length;

test('two workers share one bucket: 40 checks alternating between them allow exactly the burst of 10', async (t) => {
  const { connect, received, specsSeen } = primary(t);
  const a = connect().client;
  const b = connect().client;
  // Separate but equal spec objects, as two worker processes have: the primary interns them to one limit.
  const [specA, specB] = [spec('shared', { capacity: 10, rate: 1e-6 }), spec('shared', { capacity: 10, rate: 1e-6 })];
  const outcomes: LimitOutcome[] = [];
  for (let i = 0; i < 40; i++) outcomes.push(await (i % 2 === 0 ? a.check(single(specA, 'k')) : b.check(single(specB, 'k'))));
  assert.equal(allowed(outcomes), 10);
  assert.ok(outcomes.slice(0, 10).every((o) => o.allowed), 'the first ten pass, in order');
  // 10 allowed + the first refusal at each worker; every later refusal is each worker's own cache.
  assert.equal(received.length, 12);
  assert.equal(specsSeen.size, 1, 'both workers\' limits reach the store as one spec object');
});

test('all checks asked in one turn reach the primary as one message per worker, answered in order', async (t) => {
  const { connect, received } = primary(t);
  const a = connect().client;
  const b = connect().client;
  const p = spec('turn', { capacity: 10, rate: 1e-6 });
  const fromA = Array.from({ length: 20 }, () => a.check(single(p, 'k')));
  const fromB = Array.from({ length: 20 }, () => b.check(single(p, 'k')));
  const [outA, outB] = [await Promise.all(fromA), await Promise.all(fromB)];
  assert.equal(allowed(outA) + allowed(outB), 10);
  assert.equal(received.length, 2);
  // Answered in order: within each worker's batch the allowed checks come first (whichever batch the primary read first).
  for (const out of [outA, outB]) assert.deepEqual(out.map((o) => o.allowed), out.map((_, i) => i < allowed(out)));
});

test('a turn of more checks than one message holds is split, still in order', async (t) => {
  const { connect, received } = primary(t);
  const { client } = connect();
  const p = spec('split', { capacity: 300, rate: 1e-6 });
  const outcomes = await Promise.all(Array.from({ length: 300 }, () => client.check(single(p, 'k'))));
  assert.equal(received.length, 2, '256 + 44');
  assert.deepEqual(outcomes.map((o) => o.steps[0]!.remaining), Array.from({ length: 300 }, (_, i) => 299 - i));
});

test('a refused key is answered from the worker cache until the instant the primary said it would pass', async (t) => {
  const { connect, received, advance } = primary(t);
  const { client } = connect();
  const p = spec('cache', { capacity: 1, rate: 1 });
  assert.equal((await client.check(single(p, 'k'))).allowed, true);
  const refused = await client.check(single(p, 'k'));
  assert.equal(refused.allowed, false);
  assert.equal(refused.steps[0]!.retryAfterMs, 1000);
  const asked = received.length;
  advance(400);
  const local = await client.check(single(p, 'k'));
  assert.equal(local.allowed, false);
  assert.equal(local.steps[0]!.retryAfterMs, 600, 'the wait counts down locally');
  assert.equal(received.length, asked, 'no message reached the primary');
  assert.equal((await client.check(single(p, 'other'))).allowed, true, 'another key is asked, not refused');
  assert.equal(received.length, asked + 1);
  advance(600);
  assert.equal((await client.check(single(p, 'k'))).allowed, true, 'at the retry instant the primary is asked again');
  assert.equal(received.length, asked + 2);
});

test('a busy client is admitted from grants: few messages reach the primary, and what was not spent comes back', async (t) => {
  const { store, connect, received, advance } = primary(t);
  const a = connect().client;
  const b = connect().client;
  const p = spec('busy', { capacity: 100_000, rate: 1e-6 });
  let allowed = 0;
  for (let i = 0; i < 2000; i++) {
    if ((await (i % 2 === 0 ? a : b).check(single(p, 'k'))).allowed) allowed++;
    if (i % 100 === 0) advance(1);
  }
  assert.equal(allowed, 2000);
  const messages = received.length;
  assert.ok(messages < 2000 / MAX_GRANT + 20, `${messages} messages for 2000 checks`);
  const local = await a.check(single(p, 'k'));
  const remaining = local.steps[0]!.remaining;
  // What the primary said with the grant, less what this worker spent since: off by at most the other worker's grants.
  assert.ok(Math.abs(remaining - (100_000 - 2001)) <= 2 * MAX_GRANT, `remaining ${remaining}, exact ${100_000 - 2001}`);
  allowed++;
  // Past their time, the workers give back what they did not spend (their timers run every GRANT_MS).
  advance(GRANT_MS);
  await new Promise((resolve) => setTimeout(resolve, 3 * GRANT_MS));
  const peek = store.check(single(p, 'k'), { dryRun: true });
  assert.equal(peek.steps[0]!.remaining, 100_000 - allowed - 1, 'every unspent unit came back: the bucket holds exactly what was not admitted');
});

test('grants answered in one message are paired with the checks that asked, whatever their place in it', async (t) => {
  const { connect, received } = primary(t);
  const { client } = connect();
  const p = spec('batch', { capacity: 10_000, rate: 1e-6 });
  for (const key of ['k1', 'k2', 'k3']) assert.equal((await client.check(single(p, key))).allowed, true);
  // One turn: a key never seen first (asks for nothing), then the three busy ones (each asks).
  const first = await Promise.all(['new', 'k1', 'k2', 'k3'].map((key) => client.check(single(p, key))));
  assert.deepEqual(first.map((o) => o.steps[0]!.remaining), [9_999, 9_998, 9_998, 9_998]);
  const asked = received.length;
  for (const key of ['k1', 'k2', 'k3']) {
    const local = client.check(single(p, key));
    assert.ok(!(local instanceof Promise), `${key}: answered from its grant, at once`);
    assert.equal(local.steps[0]!.remaining, 9_997, `${key}: its own grant's count`);
  }
  const unseen = client.check(single(p, 'new'));
  assert.ok(unseen instanceof Promise, 'the key that asked for nothing has no grant: the primary is asked');
  assert.equal(received.length, asked, 'the grants answered the rest here');
  assert.equal((await unseen).steps[0]!.remaining, 9_998);
});

test('a client near its limit gets no grant: decided request by request, exact across workers', async (t) => {
  const { connect, received } = primary(t);
  const a = connect().client;
  const b = connect().client;
  const p = spec('near', { capacity: 60, rate: 1e-6 });
  let allowed = 0;
  for (let i = 0; i < 100; i++) if ((await (i % 2 === 0 ? a : b).check(single(p, 'k'))).allowed) allowed++;
  assert.equal(allowed, 60);
  const grants = received.filter((m) => (m as { checks?: unknown[][] }).checks?.some((c) => c[5] === 1)).length;
  assert.ok(grants > 0, 'the workers asked');
  assert.equal(received.length, 62, 'every admission was the primary’s, and each worker’s first refusal (the rest are cached)');
});

test('concurrency: 3 held, the 4th refused; release frees one slot, a second release of it nothing', async (t) => {
  const { connect, received } = primary(t);
  const { client } = connect();
  const p = spec('slots', { algorithm: 'concurrency', capacity: 3, rate: 0 });
  const held = [await client.check(single(p, 'k')), await client.check(single(p, 'k')), await client.check(single(p, 'k'))];
  assert.ok(held.every((o) => o.allowed && typeof o.release === 'function'));
  assert.equal((await client.check(single(p, 'k'))).allowed, false);
  held[0]!.release!();
  held[0]!.release!();
  const before = received.length;
  // Released in the same turn as the next check: one message, the release applied first.
  const [again, over] = await Promise.all([client.check(single(p, 'k')), client.check(single(p, 'k'))]);
  assert.equal(received.length, before + 1);
  assert.deepEqual((received.at(-1) as { release?: number[] }).release?.length, 1, 'the lease travels once');
  assert.equal(again.allowed, true, 'a concurrency refusal is never cached: the freed slot is taken');
  assert.equal(over.allowed, false, 'the double release freed one slot only');
});

test('a worker whose channel closes gives back every slot it held', async (t) => {
  const { store, connect } = primary(t);
  const dying = connect();
  const other = connect().client;
  const p = spec('crash', { algorithm: 'concurrency', capacity: 3, rate: 0 });
  for (let i = 0; i < 3; i++) assert.equal((await dying.client.check(single(p, 'k'))).allowed, true);
  assert.equal((await other.check(single(p, 'k'))).allowed, false);
  dying.server.close(); // what the primary does when the worker exits
  assert.equal(store.size(), 0, 'the slots were released, the state forgotten');
  const outcomes = [await other.check(single(p, 'k')), await other.check(single(p, 'k')), await other.check(single(p, 'k'))];
  assert.equal(allowed(outcomes), 3);
});

test('a worker whose port closes (it exited) gives back its slots without an explicit close', async (t) => {
  const { connect } = primary(t);
  const dying = connect();
  const other = connect().client;
  const p = spec('exit', { algorithm: 'concurrency', capacity: 1, rate: 0 });
  assert.equal((await dying.client.check(single(p, 'k'))).allowed, true);
  assert.equal((await other.check(single(p, 'k'))).allowed, false);
  dying.port.close();
  await Promise.all([once(dying.port, 'close'), once(dying.workerPort, 'close')]);
  assert.equal(dying.client.health(), 'down');
  assert.equal((await other.check(single(p, 'k'))).allowed, true);
});

test('a worker that exits holding a grant loses its units at once: the bucket is no longer held below its burst', async (t) => {
  const { store, connect, advance } = primary(t);
  const dying = connect();
  const p = spec('dies', { capacity: 1000, rate: 1000 });
  assert.equal((await dying.client.check(single(p, 'k'))).allowed, true);
  assert.equal((await dying.client.check(single(p, 'k'))).allowed, true);
  const local = dying.client.check(single(p, 'k'));
  assert.ok(!(local instanceof Promise), 'a grant is held');
  dying.port.close();
  await Promise.all([once(dying.port, 'close'), once(dying.workerPort, 'close')]);
  advance(5_000);
  // Read before the grant book's own timer could forget it: only the channel's close can have ended the grant.
  assert.equal(store.check(single(p, 'k'), { dryRun: true }).steps[0]!.remaining, 999, 'refilled to the whole burst');
});

test('a dry run decides without storing anything, and holds() reports stored state', async (t) => {
  const { store, connect } = primary(t);
  const { client } = connect();
  const p = spec('dry', { capacity: 1, rate: 1 });
  const peek = await client.check(single(p, 'k'), { dryRun: true });
  assert.equal(peek.allowed, true);
  assert.equal(store.size(), 0);
  assert.equal(await client.holds(single(p, 'k')), false);
  assert.equal((await client.check(single(p, 'k'))).allowed, true);
  assert.equal(await client.holds(single(p, 'k')), true);
  assert.equal((await client.check(single(p, 'k'), { dryRun: true })).allowed, false);
  assert.equal(store.size(), 1);
  assert.equal(client.size(), 0, 'states are counted by the primary, once');
});

test('a check pending when the channel closes resolves to store_unavailable, and so does every later one', async (t) => {
  // No primary answers on this channel: the check can only end by the close.
  const { port1, port2 } = new MessageChannel();
  const client = new IpcStore(portChannel(port2));
  t.after(() => client.close());
  const p = spec('gone', { capacity: 5, rate: 1 });
  const pending = client.check(single(p, 'k'));
  const holds = client.holds(single(p, 'k'));
  assert.equal(client.health(), 'ok');
  setImmediate(() => port1.close());
  const outcome = await pending;
  assert.equal(outcome.allowed, false);
  assert.equal(outcome.reason, 'store_unavailable');
  assert.deepEqual(outcome.steps, [{ allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 1000 }]);
  assert.equal(await holds, false);
  assert.equal(client.health(), 'down');
  assert.equal((await client.check(single(p, 'k'))).reason, 'store_unavailable');
});

test('outcomes survive JSON (the cluster IPC encoding): an infinite wait stays infinite', () => {
  const wire = encodeOutcome({ allowed: false, steps: [{ allowed: false, remaining: 0, resetMs: Infinity, retryAfterMs: Infinity }], reason: 'capacity' }, 7);
  const { outcome, lease } = decodeOutcome(JSON.parse(JSON.stringify(wire)));
  assert.equal(lease, 7);
  assert.deepEqual(outcome, { allowed: false, steps: [{ allowed: false, remaining: 0, resetMs: Infinity, retryAfterMs: Infinity }], reason: 'capacity' });
});

test('over real node:cluster IPC (JSON, shared with other messages): exact limits, slots freed when the worker dies', { timeout: 5000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-ipc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, 'worker.mjs');
  const src = (file: string) => JSON.stringify(new URL(`../../src/cluster/${file}`, import.meta.url).href);
  writeFileSync(
    script,
    `import { processChannel } from ${src('channel.js')};
import { IpcStore } from ${src('store-client.js')};
const store = new IpcStore(processChannel());
const bucket = { id: 'b', algorithm: 'token_bucket', scope: 'client', rate: 1e-6, capacity: 3, windowMs: 3e9, mode: 'enforce', leaseMs: 60000 };
const slots = { id: 's', algorithm: 'concurrency', scope: 'client', rate: 0, capacity: 2, windowMs: 0, mode: 'enforce', leaseMs: 60000 };
const one = (limit) => ({ group: limit.id, limits: [limit], keys: ['k'], cost: 1 });
process.send({ tg: 'other', hello: true }); // another protocol on the same channel
const burst = await Promise.all(Array.from({ length: 5 }, () => store.check(one(bucket))));
const held = [await store.check(one(slots)), await store.check(one(slots))];
process.send({ tg: 'test', burst: burst.map((o) => o.allowed), retry: burst[4].steps[0].retryAfterMs, held: held.map((o) => typeof o.release) });
`,
  );
  const store = new MemoryStore({ maxKeys: 1000, sweepIntervalMs: 1000 }, { autoSweep: false });
  t.after(() => store.close());
  cluster.setupPrimary({ exec: script, silent: true });
  const worker = cluster.fork();
  t.after(() => worker.process.kill());
  serveStore(store, workerChannel(worker));
  worker.send({ tg: 'other', hello: true }); // the worker's store must ignore it
  const report = await new Promise<{ burst: boolean[]; retry: number; held: string[] }>((resolve, reject) => {
    // The worker's first message is another protocol's; the primary's store ignores it.
    worker.on('message', (m: { tg?: string }) => m.tg === 'test' && resolve(m as never));
    worker.once('exit', () => reject(new Error('worker exited before reporting')));
  });
  assert.deepEqual(report.burst, [true, true, true, false, false]);
  assert.ok(report.retry > 0 && Number.isFinite(report.retry));
  assert.deepEqual(report.held, ['function', 'function']);
  const slots = spec('s', { algorithm: 'concurrency', capacity: 2, rate: 0 });
  assert.equal(store.check(single(slots, 'k')).allowed, false, 'both slots are held by the worker');
  worker.process.kill('SIGKILL');
  await once(worker, 'exit');
  assert.equal(store.check(single(slots, 'k')).allowed, true, 'its slots were given back when it died');
});
