import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';

/**
 * Issue 14 item 2: with the shipped key sources (`header:x-api-key`, else
 * the address) and no api_keys, the admin API names a client by any form an
 * operator has (the key as sent, its log label, its sha256: hash, id:, ip:),
 * all the same client; a form that names no possible client is a 400.
 */
const TOKEN = 'ops-token-0123456789abcdef';
const ALICE = 'alice-secret-7f3a9c';
const sha = (v: string) => createHash('sha256').update(v).digest('hex');
const LABEL = `key:${sha(ALICE).slice(0, 12)}`;
const FORMS = { raw: ALICE, label: LABEL, sha256: `sha256:${sha(ALICE)}` };

interface LimitsBody { key: string; seen: boolean; hint?: string; override: { kind: string } | null; policies: { policy: string; limits: { limit: number; remaining: number }[] }[] }

// 0.01 tokens/s: nothing refills while a test runs, so every number is exact.
async function setup(t: { after(fn: () => Promise<unknown>): void }, key = '[header:x-api-key, ip]') {
  const up = await startUpstream();
  const gw = await startGateway(`server: { trust_proxy: true }
admin: { token: "${TOKEN}" }
rate_limit: { requests_per_second: 0.01, burst: 3, key: ${key} }
routes:
${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return gw;
}

const admin = (gw: TestGateway, method: string, form: string, body?: unknown) => adminSend(gw, TOKEN, method, `/v1/limits/${encodeURIComponent(form)}`, body);
const asAlice = (gw: TestGateway) => send(gw.url, '/api/x', { headers: { 'x-api-key': ALICE } });
async function limits(gw: TestGateway, form: string): Promise<LimitsBody> {
  const res = await admin(gw, 'GET', form);
  assert.equal(res.status, 200, `${form}: ${res.text}`);
  assert.equal(res.text.includes(ALICE), false, 'the raw key is never echoed');
  return res.json<LimitsBody>();
}
const remaining = (b: LimitsBody) => b.policies[0]?.limits[0]?.remaining;
function noRawKeyLogged(gw: TestGateway): void {
  assert.equal(gw.logs.some((l) => JSON.stringify(l).includes(ALICE)), false, 'no log line holds the raw key');
}

test('GET by the raw key, the log label and the sha256: form: alice\'s own numbers and seen: true; a client never seen: seen: false', async (t) => {
  const gw = await setup(t);
  assert.equal((await asAlice(gw)).status, 200);
  assert.equal(gw.accessLines()[0]?.client, LABEL, 'the label the log shows');
  for (const [name, form] of Object.entries(FORMS)) {
    const body = await limits(gw, form);
    assert.equal(body.key, LABEL, name);
    assert.equal(body.seen, true, name);
    assert.equal(body.hint, undefined, name);
    assert.equal(remaining(body), 2, `${name}: one of 3 taken`);
  }
  const bob = await limits(gw, 'bob-never-seen');
  assert.deepEqual([bob.seen, remaining(bob)], [false, 3]);
  const label = await limits(gw, `key:${sha('carol').slice(0, 12)}`);
  assert.equal(label.seen, false);
  assert.match(label.hint ?? '', /not seen this label/);
  noRawKeyLogged(gw);
});

test('PUT block by any form blocks alice (403) and DELETE by another form lifts it; the answer and audit line name the label', async (t) => {
  const gw = await setup(t);
  const pairs: [string, string][] = [[FORMS.raw, FORMS.label], [FORMS.label, FORMS.sha256], [FORMS.sha256, FORMS.raw]];
  for (const [set, lift] of pairs) {
    const put = await admin(gw, 'PUT', set, { block: true });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json<{ key: string }>().key, LABEL);
    assert.equal((await asAlice(gw)).status, 403, `blocked by ${set.slice(0, 7)}`);
    assert.equal((await limits(gw, lift)).override?.kind, 'block');
    const del = await admin(gw, 'DELETE', lift);
    assert.equal(del.status, 200, del.text);
    assert.equal((await asAlice(gw)).status, 200, `lifted by ${lift.slice(0, 7)}`);
  }
  const audits = gw.logs.filter((l) => l.audit !== undefined);
  assert.equal(audits.length, 6);
  assert.ok(audits.every((l) => l.key === LABEL), JSON.stringify(audits));
  noRawKeyLogged(gw);
});

test('a limit override set by label binds alice through the gateway, and explain shows it', async (t) => {
  const gw = await setup(t);
  assert.equal((await admin(gw, 'PUT', FORMS.label, { requests_per_second: 0.01, burst: 1 })).status, 200);
  const q = new URLSearchParams({ method: 'GET', path: '/api/x', ip: '198.51.100.7', 'header.x-api-key': ALICE });
  const explained = await adminSend(gw, TOKEN, 'GET', `/v1/explain?${q}`);
  assert.equal(explained.status, 200, explained.text);
  assert.deepEqual(explained.json<{ override: { kind: string; burst: number } | null }>().override?.burst, 1);
  assert.deepEqual([(await asAlice(gw)).status, (await asAlice(gw)).status], [200, 429], 'burst 1, not the policy\'s 3');
  const body = await limits(gw, FORMS.raw);
  assert.deepEqual([body.seen, body.policies[0]?.limits[0]?.limit, remaining(body)], [true, 1, 0]);
  noRawKeyLogged(gw);
});

test('a form no key source can produce is a 400 listing the accepted forms, for GET, PUT and DELETE; nothing is set', async (t) => {
  const gw = await setup(t);
  const impossible = ['id:nosuch', `jwt:${sha('u').slice(0, 12)}`, 'ip:999.1.1.1', 'key:nothex', `sha256:${'a'.repeat(63)}`];
  for (const form of impossible) {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await admin(gw, method, form, method === 'PUT' ? { block: true } : undefined);
      assert.equal(res.status, 400, `${method} ${form}: ${res.text}`);
      const body = res.json<{ error: string; message: string }>();
      assert.equal(body.error, 'bad_request');
      assert.match(body.message, /accepted forms: .*key:<12 hex>.*sha256:<64 hex>.*id:<api_keys id>.*ip:<address>.*jwt:<12 hex>/);
    }
  }
  assert.equal(gw.logs.filter((l) => l.audit !== undefined).length, 0);

  const ipOnly = await setup(t, '[ip]');
  const raw = await admin(ipOnly, 'PUT', ALICE, { block: true });
  assert.equal(raw.status, 400, 'no route keys clients by a header: or query: source');
  assert.equal(raw.text.includes(ALICE), false);
});

test('ip: forms: the address as the gateway keys it, IPv6 folded to its /64', async (t) => {
  const gw = await setup(t);
  const from = (ip: string) => send(gw.url, '/api/x', { headers: { 'x-forwarded-for': ip } });
  assert.equal((await from('203.0.113.9')).status, 200);
  const v4 = await limits(gw, 'ip:203.0.113.9');
  assert.deepEqual([v4.key, v4.seen, remaining(v4)], ['ip:203.0.113.9', true, 2]);
  assert.equal((await limits(gw, 'ip:::ffff:203.0.113.9')).key, 'ip:203.0.113.9');

  assert.equal((await admin(gw, 'PUT', 'ip:2001:db8:1:2::99', { block: true })).json<{ key: string }>().key, 'ip:2001:db8:1:2::/64');
  assert.equal((await from('2001:db8:1:2:aaaa::5')).status, 403, 'another address of the same /64');
  assert.equal((await from('2001:db8:1:3::5')).status, 200, 'another /64');
  assert.equal((await admin(gw, 'DELETE', 'ip:2001:db8:1:2::/64')).status, 200);
  assert.equal((await from('2001:db8:1:2:aaaa::5')).status, 200);
});
