import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { scrape } from '../helpers/metrics.js';
import { adminSend } from '../helpers/admin.js';
import { waitFor } from '../helpers/wait.js';
import { digestOf, unverifiedLabel } from '../../src/limit/keys.js';

/**
 * Weak labels from outcomes (issue 17, "Feedback loop"): failed logins in a
 * row on a route marked `login: true` label the client bad, as an operator's
 * label would, but bind no client and never override an operator's good.
 */
const TOKEN = 'adaptive-weak-token-0123456789';
const BROWSER = {
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  accept: 'application/json',
  'accept-language': 'en-GB,en;q=0.9',
};
const OUTCOME = 'throttlegate_feedback_total{label="bad",source="outcome"}';

/** /auth/login answers 401 unless the password is right; /api answers 200. */
async function setup(t: { after(fn: () => Promise<unknown>): void }, adaptive = '{ mode: enforce, failed_logins: 3 }'): Promise<TestGateway> {
  const up = await startUpstream((req, res) => {
    const ok = !(req.url ?? '').startsWith('/auth') || (req.url ?? '').includes('password=right');
    res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? '{"ok":true}' : '{"error":"bad credentials"}');
  });
  const gw = await startGateway(`rate_limit: { requests_per_second: 0.001, burst: 1000, key: ["header:x-api-key", ip], unverified_key_envelope: false }
adaptive: ${adaptive}
admin: { port: 0, token: ${TOKEN} }
routes:
${routesYaml([{ path: '/auth', upstream: up.url, extra: 'login: true' }, { path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  return gw;
}

const login = (gw: TestGateway, key: string, password: string) => send(gw.url, `/auth/login?password=${password}`, { headers: { ...BROWSER, 'x-api-key': key } });
const feedbackLines = (gw: TestGateway) => gw.logs.filter((l) => l.msg === 'adaptive feedback');

test('failed logins in a row label the client bad (source outcome): counted, logged with features and scores, by label, never the key', async (t) => {
  const gw = await setup(t);
  for (let i = 0; i < 3; i++) assert.equal((await login(gw, 'stuffer-key-1', 'guess' + i)).status, 401);
  const metrics = await waitFor('the weak label counted', async () => ((await scrape(gw.url)).get(OUTCOME) === 1 ? await scrape(gw.url) : undefined));
  assert.equal(metrics.get(OUTCOME), 1);
  const line = feedbackLines(gw).at(-1) as Record<string, unknown>;
  assert.equal(line.source, 'outcome');
  assert.equal(line.label, 'bad');
  assert.equal(line.who, 'gateway');
  assert.equal(line.client, unverifiedLabel(digestOf('stuffer-key-1')));
  // One bounded step: it moves the model (a new weights version), the score on these features not below where it was.
  assert.match(String(line.weights_version), /^risk-v1\+1$/);
  assert.ok((line.score_after as number) >= (line.score_before as number), JSON.stringify(line));
  assert.equal(typeof (line.features as Record<string, number>).auth_fail_share, 'number');
  assert.ok(!JSON.stringify(gw.logs).includes('stuffer-key-1'), 'the raw key is never logged');
});

test('a success ends the streak; 401s on a route without login: true are no failed logins', async (t) => {
  const gw = await setup(t);
  assert.equal((await login(gw, 'user-1', 'typo')).status, 401);
  assert.equal((await login(gw, 'user-1', 'typo2')).status, 401);
  assert.equal((await login(gw, 'user-1', 'right')).status, 200);
  assert.equal((await login(gw, 'user-1', 'typo3')).status, 401);
  assert.equal((await login(gw, 'user-1', 'typo4')).status, 401);
  // The last answer is observed after it was sent: a request after it is observed after it (one connection, in order).
  await send(gw.url, '/api/x', { headers: { ...BROWSER, 'x-api-key': 'user-1' } });
  await waitFor('five requests observed', async () => ((await adminSend(gw, TOKEN, 'GET', '/v1/clients/user-1')).json<{ requests: number }>().requests >= 6 ? true : undefined));
  assert.equal((await scrape(gw.url)).get(OUTCOME) ?? 0, 0, 'two, one success, two: no streak of three');
  assert.equal(feedbackLines(gw).length, 0);
});

test('a client an operator labelled good is not learned from by a streak, and stays vouched for', async (t) => {
  const gw = await setup(t);
  await login(gw, 'partner-1', 'right');
  await waitFor('partner seen', async () => ((await adminSend(gw, TOKEN, 'GET', '/v1/clients/partner-1')).status === 200 ? true : undefined));
  assert.equal((await adminSend(gw, TOKEN, 'POST', '/v1/feedback', { key: 'partner-1', label: 'good' })).status, 200);
  for (let i = 0; i < 6; i++) assert.equal((await login(gw, 'partner-1', 'rotated' + i)).status, 401);
  await send(gw.url, '/api/x', { headers: { ...BROWSER, 'x-api-key': 'partner-1' } });
  await waitFor('every request observed', async () => ((await adminSend(gw, TOKEN, 'GET', '/v1/clients/partner-1')).json<{ requests: number }>().requests >= 8 ? true : undefined));
  const metrics = await scrape(gw.url);
  assert.equal(metrics.get(OUTCOME) ?? 0, 0);
  assert.equal(metrics.get('throttlegate_feedback_total{label="good",source="api"}'), 1);
});

test('failed_logins: 0 turns weak labels off; learn: false learns nothing from them', async (t) => {
  for (const adaptive of ['{ mode: enforce, failed_logins: 0 }', '{ mode: enforce, learn: false, failed_logins: 2 }']) {
    const gw = await setup(t, adaptive);
    for (let i = 0; i < 4; i++) assert.equal((await login(gw, 'k-' + adaptive.length, 'x' + i)).status, 401);
    await send(gw.url, '/api/x', { headers: { ...BROWSER, 'x-api-key': 'k-' + adaptive.length } });
    await waitFor('every request observed', async () => ((await adminSend(gw, TOKEN, 'GET', `/v1/clients/k-${adaptive.length}`)).json<{ requests: number }>().requests >= 5 ? true : undefined));
    assert.equal((await scrape(gw.url)).get(OUTCOME) ?? 0, 0, adaptive);
    assert.equal(feedbackLines(gw).length, 0, adaptive);
  }
});

test('config: login must be a boolean, failed_logins a whole number 0..1000, each refused with its field path', async () => {
  const { parseConfig } = await import('../../src/index.js');
  assert.throws(() => parseConfig('adaptive: { failed_logins: -1 }\nroutes: [{ path: /a, upstream: "http://127.0.0.1:1" }]', 't.yaml', {}), /adaptive\.failed_logins/);
  assert.throws(() => parseConfig('adaptive: { failed_logins: 2.5 }\nroutes: [{ path: /a, upstream: "http://127.0.0.1:1" }]', 't.yaml', {}), /adaptive\.failed_logins/);
  assert.throws(() => parseConfig('routes: [{ path: /a, upstream: "http://127.0.0.1:1", login: "yes" }]', 't.yaml', {}), /routes\[0\]\.login|routes\.0\.login|login/);
  const config = parseConfig('adaptive: {}\nroutes: [{ path: /a, upstream: "http://127.0.0.1:1", login: true }]', 't.yaml', {});
  assert.equal(config.routes[0]?.login, true);
  assert.equal(config.adaptive?.failedLogins, 5, 'the default');
});
