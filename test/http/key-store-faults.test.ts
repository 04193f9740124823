import { spawn } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send, type RawResponse } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';
import { scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/pool.js';
import { waitFor as pollFor } from '../helpers/wait.js';
import { freePort } from '../helpers/redis.js';
import { CLI, writeConfig } from '../helpers/cli.js';
import { newApiKey } from '../../src/keys/generate.js';
import { postgresAvailable, startPostgres, type PostgresProcess } from '../helpers/postgres.js';

/**
 * The key store's PostgreSQL lost under traffic and brought back, with two
 * gateways sharing one schema: keys held in memory keep deciding (a revoked
 * key stays revoked), management answers 503 at once, the metric tells the
 * truth, and a gateway that missed a change while disconnected catches up by
 * the full reload after it reconnects. Then a gateway starting while
 * PostgreSQL is down: it gives up after startup_timeout without naming the password.
 */
const TOKEN = 'key-store-faults-admin-token';
const SCHEMA = 'tg_faults';
const PROMPT_MS = 5_000;
// Reconnect backoff tops out at 5 s and the full load after it is quick: 20 s leaves room for a slow machine.
const HEAL_MS = 20_000;

const gatewayYaml = (pgUrl: string, upstream: string) => `key_store:
  type: postgres
  postgres: { url: "${pgUrl}", schema: ${SCHEMA}, startup_timeout: 30s, resync_interval: 60s }
admin: { token: "${TOKEN}" }
plans:
  free: { limits: [ { requests_per_second: 1, burst: 3 } ] }
  pro: { limits: [ { requests_per_second: 1000, burst: 1000 } ] }
rate_limit: { requests_per_second: 1, burst: 2, key: ["header:x-api-key", "ip"] }
routes:
${routesYaml([{ path: '/api', upstream, extra: 'require_api_key: true' }])}`;

/**
 * A TCP relay to PostgreSQL that only gateway A goes through: shut, it cuts
 * off every new connection, so A stays away (and misses every NOTIFY) while
 * B, connected directly, already writes.
 */
async function startRelay(target: number) {
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const state = { open: true };
  const server = createServer((client) => {
    track(client);
    if (!state.open) return void client.destroy();
    const server = connect(target, '127.0.0.1');
    track(server);
    for (const [from, to] of [[client, server], [server, client]] as const) {
      from.on('error', () => to.destroy());
      from.on('close', () => to.destroy());
      from.pipe(to);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    state,
    url: `postgres://postgres@127.0.0.1:${(server.address() as AddressInfo).port}/postgres`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const withKey = (gw: TestGateway, key: string): Promise<RawResponse> => send(gw.url, '/api/x', { headers: { 'x-api-key': key } });
const keyStoreUp = async (gw: TestGateway): Promise<number | undefined> => (await scrape(gw.url)).get('throttlegate_key_store_up');

async function createKey(gw: TestGateway, id: string, plan: string): Promise<string> {
  const res = await adminSend(gw, TOKEN, 'POST', '/v1/keys', { plan, id });
  assert.equal(res.status, 201, res.text);
  return res.json<{ key: string }>().key;
}

/** Management refused with 503 key_store_unavailable, promptly, whatever pool timeouts lie below it. */
async function assertUnavailable(gw: TestGateway, when: string): Promise<void> {
  for (const [method, body] of [['POST', { plan: 'free', id: 'during' }], ['GET', undefined]] as const) {
    const started = performance.now();
    const res = await adminSend(gw, TOKEN, method, '/v1/keys', body);
    const ms = performance.now() - started;
    assert.equal(res.status, 503, `${method} /v1/keys ${when}: ${res.text}`);
    assert.equal(res.json().error, 'key_store_unavailable');
    assert.ok(ms < PROMPT_MS, `${method} /v1/keys ${when} took ${ms.toFixed(0)} ms`);
  }
}

/** Requests with one key every 20 ms until stop(); counts what answered while `outage` is set. */
function backgroundTraffic(gw: TestGateway, key: string) {
  const state = { outage: false, stopped: false, sentDuringOutage: 0, failuresDuringOutage: [] as number[] };
  const loop = (async () => {
    while (!state.stopped) {
      const during = state.outage;
      const status = await withKey(gw, key).then((r) => r.status, () => 0);
      if (during && state.outage) {
        state.sentDuringOutage++;
        if (status !== 200) state.failuresDuringOutage.push(status);
      }
      await sleep(20);
    }
  })();
  return {
    state,
    stop: async () => {
      state.stopped = true;
      await loop;
    },
  };
}

const postgresOk = await postgresAvailable();
let postgres: PostgresProcess | undefined;
let relay: Awaited<ReturnType<typeof startRelay>> | undefined;
let upstream: TestUpstream | undefined;
let a: TestGateway;
let b: TestGateway;
let liveKey = '';

before(async () => {
  if (!postgresOk) return;
  postgres = await startPostgres();
  relay = await startRelay(postgres.port);
  upstream = await startUpstream();
  a = await startGateway(gatewayYaml(relay.url, upstream.url));
  b = await startGateway(gatewayYaml(postgres.url, upstream.url));
});

after(async () => {
  await Promise.all([a?.close(), b?.close(), upstream?.close()]);
  await relay?.close();
  await postgres?.destroy();
});

test('PostgreSQL stopped mid-traffic: the keys in memory keep deciding, management answers 503 at once', { skip: !postgresOk }, async (t) => {
  const pg = postgres as PostgresProcess;
  liveKey = await createKey(a, 'live', 'pro');
  const goneKey = await createKey(a, 'gone', 'free');
  assert.equal((await adminSend(a, TOKEN, 'DELETE', '/v1/keys/gone')).status, 200);
  for (const [name, gw] of [['A', a], ['B', b]] as const) {
    await waitFor(async () => (await withKey(gw, liveKey)).status === 200, HEAL_MS, `live key accepted on ${name}`);
    await waitFor(async () => (await withKey(gw, goneKey)).status === 401, HEAL_MS, `gone key refused on ${name}`);
  }
  assert.equal(await keyStoreUp(a), 1);

  const traffic = backgroundTraffic(a, liveKey);
  t.after(() => traffic.stop());
  traffic.state.outage = true;
  await pg.stop();

  // Straight after the stop, A may not have noticed yet: the write takes a pooled connection the
  // server just cut, mid-transaction. That must be a 503, never an 'error' event that ends the process.
  await assertUnavailable(a, 'just after the stop');
  await waitFor(async () => (await keyStoreUp(a)) === 0, HEAL_MS, 'throttlegate_key_store_up 0 on A');
  await assertUnavailable(a, 'with the store known to be down');

  for (const [name, gw] of [['A', a], ['B', b]] as const) {
    assert.equal((await withKey(gw, liveKey)).status, 200, `live key on ${name}`);
    const gone = await withKey(gw, goneKey);
    assert.equal(gone.status, 401, `revoked key on ${name}`);
    assert.deepEqual(gone.json(), { error: 'invalid_api_key' });
    const unknown = await withKey(gw, newApiKey());
    assert.equal(unknown.status, 401, `unknown key on ${name}`);
    assert.deepEqual(unknown.json(), { error: 'invalid_api_key' });
  }
  assert.equal((await send(a.url, '/ready')).status, 200, '/ready stays 200: the gateway serves the keys it holds');

  // Let the loop run through a stretch of the outage with the store known to be down.
  const seen = traffic.state.sentDuringOutage;
  await waitFor(() => traffic.state.sentDuringOutage >= seen + 10, HEAL_MS, 'background requests during the outage');
  traffic.state.outage = false;
  await traffic.stop();
  assert.deepEqual(traffic.state.failuresDuringOutage, [], `statuses other than 200 among ${traffic.state.sentDuringOutage} requests during the outage`);
});

test('PostgreSQL restarted: a key created through B while A was away becomes usable on A by the reload', { skip: !postgresOk }, async () => {
  const pg = postgres as PostgresProcess;
  const gate = relay as Awaited<ReturnType<typeof startRelay>>;
  assert.notEqual(liveKey, '', 'the outage test ran first');
  gate.state.open = false;
  await pg.start();

  // B's admin answers 503 until B has reconnected; poll until it answers anything else.
  const created = await pollFor("B's admin answering POST /v1/keys", async () => {
    const res = await adminSend(b, TOKEN, 'POST', '/v1/keys', { plan: 'free', id: 'late' });
    return res.status === 503 ? undefined : res;
  }, HEAL_MS, 50);
  assert.equal(created.status, 201, created.text);
  const lateKey = created.json<{ key: string }>().key;

  // A is still cut off: the NOTIFY for "late" went out while it was not listening.
  assert.equal((await withKey(a, lateKey)).status, 401, 'A has not heard of "late" yet');
  assert.equal(await keyStoreUp(a), 0);
  gate.state.open = true;

  await waitFor(async () => (await withKey(a, lateKey)).status === 200, HEAL_MS, 'the key created on B accepted by A');
  assert.equal(await keyStoreUp(a), 1, 'throttlegate_key_store_up back to 1 on A');
  assert.equal((await withKey(a, liveKey)).status, 200, 'the live key still works');
  const list = await adminSend(a, TOKEN, 'GET', '/v1/keys');
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json<{ keys: { id: string }[] }>().keys.map((k) => k.id).sort(), ['gone', 'late', 'live'], 'nothing created during the outage');
});

test('started while PostgreSQL is down: serve gives up after startup_timeout, exit code 1, no password shown', async () => {
  const port = await freePort();
  const file = writeConfig(`key_store:
  type: postgres
  postgres: { url: "postgres://postgres:hunter2secret@127.0.0.1:${port}/postgres", schema: ${SCHEMA}, startup_timeout: 1s }
plans:
  free: { limits: [ { requests_per_second: 1, burst: 3 } ] }
rate_limit: { requests_per_second: 1, burst: 2, key: ["header:x-api-key", "ip"] }
routes:
${routesYaml([{ path: '/api', upstream: 'http://127.0.0.1:9', extra: 'require_api_key: true' }])}`);
  const child = spawn(process.execPath, [CLI, 'serve', '--config', file, '--port', '0', '--host', '127.0.0.1']);
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await exited;
  clearTimeout(deadline);

  assert.equal(code, 1, `exit code (null: killed after 20 s)\n${output}`);
  assert.match(output, /key_store: could not load the API keys from PostgreSQL at 127\.0\.0\.1:\d+\/postgres/);
  assert.ok(output.includes(`127.0.0.1:${port}/postgres`), output);
  assert.ok(!output.includes('hunter2secret'), `the password leaked:\n${output}`);
  assert.doesNotMatch(output, /throttlegate listening on/);
});
