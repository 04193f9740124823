import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';

const TOKEN = 'ops-token-0123456789abcdef';
// trust_proxy: each test speaks as its own address through X-Forwarded-For.
const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });

async function setup(t: { after(fn: () => Promise<unknown>): void }) {
  const up = await startUpstream();
  const gw = await startGateway(`server: { trust_proxy: true }
admin: { token: "${TOKEN}" }
rate_limit: { requests_per_second: 100, burst: 100 }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return { up, gw };
}

const admin = (gw: TestGateway, method: string, path: string, body?: unknown) => adminSend(gw, TOKEN, method, path, body);

test('PUT { block: true, expires_in: "1s" }: 403 forbidden through the gateway until it expires, then 200 again', async (t) => {
  const { up, gw } = await setup(t);
  assert.equal((await send(gw.url, '/api/x', from('198.51.100.7'))).status, 200);
  const setAt = performance.now();
  const set = await admin(gw, 'PUT', '/v1/limits/ip:198.51.100.7', { block: true, expires_in: '1s' });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.json<{ override: { kind: string } }>().override.kind, 'block');
  const seen = up.seen.length;

  // Poll until the block lifts. Expiry is 1 s after the PUT was handled, so
  // any answer received before setAt + 1000 was decided while it held.
  const samples: { doneAt: number; status: number; body: string }[] = [];
  const deadline = setAt + 4000;
  for (;;) {
    const res = await send(gw.url, '/api/x', from('198.51.100.7'));
    samples.push({ doneAt: performance.now() - setAt, status: res.status, body: res.text });
    if (res.status === 200) break;
    assert.ok(performance.now() < deadline, 'the block lifts within 4 s of a 1 s expiry');
    await sleep(20);
  }
  const blocked = samples.filter((s) => s.status !== 200);
  assert.ok(blocked.length > 0);
  for (const s of blocked) assert.deepEqual([s.status, s.body], [403, '{"error":"forbidden"}']);
  assert.ok(samples.filter((s) => s.doneAt < 1000).every((s) => s.status === 403), 'never lifted before 1 s');
  assert.ok(blocked.some((s) => s.doneAt >= 700 && s.doneAt < 1000), `still blocked shortly before 1 s (${blocked.map((s) => Math.round(s.doneAt)).join(', ')})`);
  const lifted = samples.at(-1)!;
  assert.ok(lifted.doneAt >= 1000, `lifted at ${Math.round(lifted.doneAt)} ms, not before`);
  assert.equal(up.seen.length, seen + 1, 'only the request after expiry reached the origin');

  const lines = gw.accessLines().filter((l) => l.client === 'ip:198.51.100.7');
  assert.deepEqual(new Set(lines.slice(1, -1).map((l) => `${l.decision} ${l.status}`)), new Set(['blocked 403']));
  assert.equal(lines.at(-1)?.decision, 'allowed');
  assert.equal((await admin(gw, 'GET', '/v1/limits/ip:198.51.100.7')).json<{ override: unknown }>().override, null, 'expired overrides are gone');
  assert.equal((await admin(gw, 'DELETE', '/v1/limits/ip:198.51.100.7')).status, 404);
});

test('a block without expires_in holds until DELETE; other clients pass throughout', async (t) => {
  const { gw } = await setup(t);
  const set = await admin(gw, 'PUT', '/v1/limits/ip:198.51.100.8', { block: true });
  assert.deepEqual(set.json(), { key: 'ip:198.51.100.8', override: { kind: 'block', expires_at: null, set_by: 'admin' } });
  for (let i = 0; i < 3; i++) {
    assert.equal((await send(gw.url, '/api/x', from('198.51.100.8'))).status, 403);
    assert.equal((await send(gw.url, '/api/x', from('198.51.100.9'))).status, 200);
  }
  assert.equal((await admin(gw, 'DELETE', '/v1/limits/ip:198.51.100.8')).status, 200);
  assert.equal((await send(gw.url, '/api/x', from('198.51.100.8'))).status, 200);
  const audits = gw.logs.filter((l) => l.audit !== undefined).map((l) => [l.audit, l.who, l.key, (l.before as { kind?: string } | null)?.kind ?? null, (l.after as { kind?: string } | null)?.kind ?? null]);
  assert.deepEqual(audits, [
    ['override_set', 'admin', 'ip:198.51.100.8', null, 'block'],
    ['override_deleted', 'admin', 'ip:198.51.100.8', 'block', null],
  ]);
});
