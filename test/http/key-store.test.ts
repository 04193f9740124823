import { test, before, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { adminSend } from '../helpers/admin.js';
import { send } from '../helpers/http.js';
import { waitFor } from '../helpers/wait.js';
import { postgresAvailable, testSchema, type TestSchema } from '../helpers/postgres.js';

const TOKEN = 'key-store-admin-token-0123';
const available = await postgresAvailable();
let up: TestUpstream;
// Each test's keys live in a schema of its own, dropped at the end.
const schemas: TestSchema[] = [];
let db: TestSchema;

before(async () => {
  if (available) up = await startUpstream();
});
beforeEach(async () => {
  if (!available) return;
  db = await testSchema();
  schemas.push(db);
});
after(async () => {
  if (!available) return;
  await Promise.all([...schemas.map((s) => s.drop()), up.close()]);
});

// Slow refill: a free key's burst of 3 is not back before the test looks, however slow the machine.
const gatewayYaml = () => `
key_store:
  type: postgres
  postgres: { url: "${db.url}", schema: ${db.schema} }
admin: { token: "${TOKEN}" }
plans:
  free: { limits: [ { requests_per_second: 0.01, burst: 3 } ] }
  pro: { limits: [ { requests_per_second: 1000, burst: 1000 } ] }
rate_limit: { requests_per_second: 0.01, burst: 2, key: ["header:x-api-key", "ip"] }
routes:
  - { path: /api, upstream: "${up.url}", require_api_key: true }
  - { path: /open, upstream: "${up.url}" }
`;

const call = (gw: TestGateway, method: string, path: string, body?: unknown) => adminSend(gw, TOKEN, method, path, body);
const get = (gw: TestGateway, key: string, path = '/api/x') => send(gw.url, path, { headers: { 'x-api-key': key } });
const statusOf = async (gw: TestGateway, key: string, path?: string) => (await get(gw, key, path)).status;

async function created(gw: TestGateway, body: Record<string, unknown>): Promise<{ id: string; key: string; prefix: string; state: string }> {
  const res = await call(gw, 'POST', '/v1/keys', body);
  assert.equal(res.status, 201, res.text);
  return res.json();
}

/** Milliseconds from now until `gw` answers `status` for `key` (polled every 10 ms). */
async function untilStatus(gw: TestGateway, key: string, status: number, withinMs: number): Promise<number> {
  const started = performance.now();
  await waitFor(`status ${status}`, async () => (await statusOf(gw, key)) === status, withinMs, 10);
  return performance.now() - started;
}

test('a key is issued, limited by its plan, disabled, rotated with a grace and revoked on a second instance within a second', { skip: !available }, async (t) => {
  const a = await startGateway(gatewayYaml());
  const b = await startGateway(gatewayYaml());
  t.after(() => Promise.all([a.close(), b.close()]));

  const acme = await created(a, { plan: 'free', id: 'acme', note: 'first customer' });
  assert.match(acme.key, /^tg_[0-9A-Za-z]{32}$/);
  assert.equal(acme.prefix, acme.key.slice(0, 8));
  assert.equal(acme.state, 'active');
  // The plan's burst of 3 applies to the key's own bucket (B never saw it: its buckets are its own).
  assert.deepEqual([await statusOf(a, acme.key), await statusOf(a, acme.key), await statusOf(a, acme.key), await statusOf(a, acme.key)], [200, 200, 200, 429]);
  assert.equal(a.accessLines().at(-1)?.client, 'id:acme');
  assert.equal(a.accessLines().at(-1)?.plan, 'free');
  await untilStatus(b, acme.key, 200, 5_000);

  const pro = await created(b, { plan: 'pro', id: 'rotating' });
  await untilStatus(a, pro.key, 200, 5_000);
  assert.equal((await call(b, 'PATCH', '/v1/keys/rotating', { disabled: true })).status, 200);
  assert.ok((await untilStatus(a, pro.key, 401, 5_000)) < 1_000, 'disabled on the other instance within a second');
  assert.deepEqual((await get(a, pro.key)).json(), { error: 'invalid_api_key' });
  // A refused key is refused on a route that does not require one too: it does not fall back to anonymous.
  assert.equal(await statusOf(a, pro.key, '/open'), 401);
  assert.equal((await call(b, 'PATCH', '/v1/keys/rotating', { disabled: false })).status, 200);
  await untilStatus(a, pro.key, 200, 5_000);

  const rotated = await call(a, 'POST', '/v1/keys/rotating/rotate', { grace: '3s' });
  assert.equal(rotated.status, 201, rotated.text);
  const next = rotated.json<{ key: string; id: string; previous_retires_at: string }>();
  assert.equal(next.id, 'rotating');
  assert.notEqual(next.key, pro.key);
  const retiresAt = Date.parse(next.previous_retires_at);
  await untilStatus(b, next.key, 200, 5_000);
  // Both work until the grace ends: asserted only for an answer that certainly came before it (a slow machine may take longer).
  const sentAt = Date.now();
  const oldStatus = await statusOf(b, pro.key);
  if (Date.now() < retiresAt - 200) assert.equal(oldStatus, 200, 'the old key works during the grace');
  else t.diagnostic(`the old key was checked ${sentAt - retiresAt} ms around the end of its grace: not asserted`);
  await waitFor('the old key refused after its grace', async () => Date.now() > retiresAt && (await statusOf(b, pro.key)) === 401, retiresAt - Date.now() + 5_000, 50);
  assert.equal(await statusOf(b, next.key), 200, 'the new key still works');
  const served = b.accessLines().filter((l) => l.status === 200 && l.route === '/api');
  assert.ok(served.length > 0 && served.every((l) => l.client === 'id:acme' || l.client === 'id:rotating'));

  const revoked = await call(a, 'DELETE', '/v1/keys/rotating');
  assert.equal(revoked.status, 200);
  assert.equal(revoked.json().state, 'revoked');
  const lag = await untilStatus(b, next.key, 401, 5_000);
  assert.ok(lag < 1_000, `revoked on the other instance within a second (took ${Math.round(lag)} ms)`);
  assert.equal((await call(b, 'PATCH', '/v1/keys/rotating', { plan: 'free' })).json().error, 'key_revoked');
  assert.equal((await call(b, 'POST', '/v1/keys/rotating/rotate')).status, 409);
  assert.equal((await call(b, 'DELETE', '/v1/keys/rotating')).status, 200, 'revoking twice changes nothing');
  assert.equal((await call(a, 'POST', '/v1/keys', { plan: 'pro', id: 'rotating' })).json().error, 'key_exists', 'a revoked id is never reused');
});

test('management validates its input and pages through keys by plan and state', { skip: !available }, async (t) => {
  const gw = await startGateway(gatewayYaml());
  t.after(() => gw.close());
  const problems = async (method: string, path: string, body?: unknown) => {
    const res = await call(gw, method, path, body);
    assert.equal(res.status, 400, `${method} ${path} ${JSON.stringify(body)}: ${res.text}`);
    return res.json<{ error: string; problems: { path: string }[] }>().problems.map((p) => p.path);
  };
  assert.deepEqual(await problems('POST', '/v1/keys', { plan: 'gold' }), ['plan']);
  assert.deepEqual(await problems('POST', '/v1/keys', { plan: 'free', id: 'has space' }), ['id']);
  assert.deepEqual(await problems('POST', '/v1/keys', { plan: 'free', expires_in: 'soon' }), ['expires_in']);
  assert.deepEqual(await problems('POST', '/v1/keys', { plan: 'free', key: 'tg_mine' }), ['key']);
  assert.deepEqual(await problems('PATCH', '/v1/keys/x', {}), ['']);
  assert.deepEqual(await problems('PATCH', '/v1/keys/x', { expires_at: 'tomorrow' }), ['expires_at']);
  assert.deepEqual(await problems('GET', '/v1/keys?limit=0'), ['limit']);
  assert.deepEqual(await problems('GET', '/v1/keys?state=lost'), ['state']);
  const missing = await call(gw, 'GET', '/v1/keys/nobody');
  assert.equal(missing.status, 404);
  assert.equal(missing.json().error, 'key_not_found');
  assert.equal((await call(gw, 'PATCH', '/v1/keys/nobody', { disabled: true })).status, 404);
  assert.equal((await call(gw, 'DELETE', '/v1/keys/nobody')).status, 404);
  assert.equal((await send(gw.adminUrl as string, '/v1/keys')).status, 401, 'the admin token is asked for');

  for (const id of ['p1', 'p2', 'p3', 'p4', 'p5']) await created(gw, { plan: id === 'p5' ? 'free' : 'pro', id });
  assert.equal((await call(gw, 'PATCH', '/v1/keys/p2', { disabled: true })).json().state, 'disabled');
  const seen: string[] = [];
  let after: string | null = '';
  do {
    const page: { keys: { id: string; prefix: string }[]; next: string | null } = (await call(gw, 'GET', `/v1/keys?limit=2${after ? `&after=${after}` : ''}`)).json();
    assert.ok(page.keys.length <= 2);
    assert.ok(page.keys.every((k) => /^tg_[0-9A-Za-z]{5}$/.test(k.prefix) && !('key' in k)), 'only a prefix, never a key');
    seen.push(...page.keys.map((k) => k.id));
    after = page.next;
  } while (after !== null);
  assert.deepEqual(seen, ['p1', 'p2', 'p3', 'p4', 'p5']);
  const ids = async (query: string) => (await call(gw, 'GET', `/v1/keys?${query}`)).json<{ keys: { id: string }[] }>().keys.map((k) => k.id);
  assert.deepEqual(await ids('plan=free'), ['p5']);
  assert.deepEqual(await ids('state=disabled'), ['p2']);
  assert.deepEqual(await ids('plan=pro&state=active'), ['p1', 'p3', 'p4']);

  // Expiry is wall-clock time: the key is refused once it has passed, whenever the check runs.
  const brief = await created(gw, { plan: 'pro', id: 'brief', expires_in: '1s' });
  await waitFor('the key expired', async () => (await call(gw, 'GET', '/v1/keys/brief')).json().state === 'expired', 10_000, 50);
  await untilStatus(gw, brief.key, 401, 5_000);
  assert.deepEqual(await ids('state=expired'), ['brief']);
  assert.equal((await call(gw, 'PATCH', '/v1/keys/brief', { expires_at: null })).json().state, 'active');
  await untilStatus(gw, brief.key, 200, 5_000);
  const id = (await created(gw, { plan: 'pro' })).id;
  assert.match(id, /^key_[0-9A-Za-z]{12}$/, 'an id is generated when none is given');
});

test('usage is counted in memory and written in one batch per key', { skip: !available }, async (t) => {
  const gw = await startGateway(gatewayYaml());
  t.after(() => gw.close());
  const { key } = await created(gw, { plan: 'pro', id: 'busy' });
  await untilStatus(gw, key, 200, 5_000);
  for (let i = 0; i < 29; i++) assert.equal(await statusOf(gw, key), 200);
  const rows = async () => (await db.query<{ requests: string }>(`SELECT requests FROM "${db.schema}".api_key_usage WHERE key_id = 'busy'`)).rows.map((r) => Number(r.requests));
  assert.deepEqual(await rows(), [], 'nothing written per request');
  const pending = (await call(gw, 'GET', '/v1/keys/busy')).json<{ requests: { last_hour: number }; last_used_at: string | null }>();
  assert.equal(pending.requests.last_hour, 30, "this instance's counts not yet written are included");
  assert.notEqual(pending.last_used_at, null);
  await gw.gateway.keys?.flushUsage();
  assert.deepEqual(await rows(), [30], 'one row for the batch');
  const written = (await call(gw, 'GET', '/v1/keys/busy')).json<{ requests: { last_hour: number; last_day: number }; last_used_at: string | null }>();
  assert.deepEqual(written.requests, { last_hour: 30, last_day: 30 });
  assert.notEqual(written.last_used_at, null);
});

test('the key itself never reaches a log line, an answer after creation, a metric or a table column', { skip: !available }, async (t) => {
  // An origin that answers without echoing the request (the key is forwarded to it, as the client sent it).
  const quiet = await startUpstream((_req, res) => res.end('ok'));
  const gw = await startGateway(gatewayYaml().replace('admin: {', 'admin: { expose_metrics: true,').replaceAll(up.url, quiet.url));
  t.after(() => Promise.all([gw.close(), quiet.close()]));
  const keys: string[] = [];
  const answers: string[] = [];
  const first = await created(gw, { plan: 'pro', id: 'secret-1' });
  keys.push(first.key);
  await untilStatus(gw, first.key, 200, 5_000);
  const rotated = (await call(gw, 'POST', '/v1/keys/secret-1/rotate', { grace: '1h' })).json<{ key: string }>();
  keys.push(rotated.key);
  const second = await created(gw, { plan: 'free', id: 'secret-2' });
  keys.push(second.key);
  await call(gw, 'DELETE', '/v1/keys/secret-2');
  await untilStatus(gw, second.key, 401, 5_000);
  for (const key of keys) {
    for (const path of ['/api/a', '/open/b']) answers.push((await get(gw, key, path)).text);
    answers.push((await call(gw, 'GET', '/v1/keys/secret-1')).text, (await call(gw, 'GET', '/v1/keys')).text, (await call(gw, 'GET', `/v1/limits/${key}`)).text);
  }
  await gw.gateway.keys?.flushUsage();
  answers.push((await send(gw.url, '/metrics')).text, (await adminSend(gw, TOKEN, 'GET', '/metrics')).text);
  const tables = (await db.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1`, [db.schema])).rows.map((r) => r.table_name);
  assert.deepEqual([...tables].sort(), ['api_key_secrets', 'api_key_usage', 'api_keys', 'schema_migrations']);
  const stored: string[] = [];
  for (const table of tables) stored.push(...(await db.query<{ row: string }>(`SELECT t::text AS row FROM "${db.schema}"."${table}" t`)).rows.map((r) => r.row));
  const logs = gw.logs.map((l) => JSON.stringify(l));
  assert.ok(logs.some((l) => l.includes('"audit":"key_created"') && l.includes('secret-1')), 'creation is audited, by id');
  for (const key of keys) {
    // Anything past the 8 characters listings show would be too much.
    const telling = key.slice(0, 12);
    for (const [where, texts] of [['logs', logs], ['answers', answers], ['tables', stored]] as const) {
      const found = texts.find((text) => text.includes(telling));
      assert.equal(found, undefined, `${where} hold ${telling}...`);
    }
  }
  // What is stored is the SHA-256, as bytes.
  const digests = (await db.query<{ hex: string }>(`SELECT encode(digest, 'hex') AS hex FROM "${db.schema}".api_key_secrets ORDER BY created_at`)).rows.map((r) => r.hex);
  assert.deepEqual(new Set(digests), new Set(keys.map((k) => createHash('sha256').update(k).digest('hex'))));
});

test('a gateway whose keys come from its config file answers /v1/keys with 409 key_store_off', async (t) => {
  const gw = await startGateway(`admin: { token: "${TOKEN}" }\nroutes:\n  - { path: /api, upstream: "http://127.0.0.1:9" }\n`);
  t.after(() => gw.close());
  for (const [method, path, body] of [['GET', '/v1/keys'], ['POST', '/v1/keys', { plan: 'x' }], ['DELETE', '/v1/keys/a']] as const) {
    const res = await call(gw, method, path, body);
    if (method === 'POST') assert.equal(res.status, 400, 'the plan is checked first');
    else {
      assert.equal(res.status, 409, `${method} ${path}`);
      assert.equal(res.json().error, 'key_store_off');
    }
  }
});
