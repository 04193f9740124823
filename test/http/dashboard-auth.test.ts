import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';
import { request } from 'node:http';
import { send, type RawResponse } from '../helpers/http.js';

const TOKEN = 'dashboard-token-0123456789';
const yaml = (upstream: string, extra = '') => `admin: { tokens: [ { id: ops, token: "${TOKEN}" } ], auth_failures: { burst: 3, per_minute: 1 }${extra} }
rate_limit: { requests_per_second: 0.01, burst: 2 }
routes:
  - { path: /api, upstream: "${upstream}" }
`;

const admin = (gw: TestGateway, path: string, options: Parameters<typeof send>[2] = {}) => send(gw.adminUrl as string, path, options);
const form = (token: string) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${encodeURIComponent(token)}` });

async function signIn(gw: TestGateway): Promise<{ cookie: string; csrf: string; res: RawResponse }> {
  const res = await admin(gw, '/dashboard/login', form(TOKEN));
  assert.equal(res.status, 303, res.text);
  const cookie = String(res.headers['set-cookie']).split(';')[0] as string;
  const session = (await admin(gw, '/dashboard/api/session', { headers: { cookie } })).json<{ csrf: string; who: string }>();
  assert.equal(session.who, 'ops');
  return { cookie, csrf: session.csrf, res };
}

test('sign-in: a wrong token is refused with a message and slowed down; the right one gets a strict cookie; sign-out ends it', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(yaml(up.url));
  t.after(() => Promise.all([gw.close(), up.close()]));

  const page = await admin(gw, '/dashboard/');
  assert.equal(page.status, 303);
  assert.equal(page.headers.location, '/dashboard/login');
  const login = await admin(gw, '/dashboard/login');
  assert.equal(login.status, 200);
  assert.match(login.text, /<form class="login-form" method="post" action="\/dashboard\/login">/);

  const { cookie, csrf, res } = await signIn(gw);
  const setCookie = String(res.headers['set-cookie']);
  for (const flag of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=28800']) assert.ok(setCookie.includes(flag), `${flag} in ${setCookie}`);
  assert.equal(res.headers.location, '/dashboard/');
  const app = await admin(gw, '/dashboard/', { headers: { cookie } });
  assert.equal(app.status, 200);
  assert.match(String(app.headers['content-security-policy']), /default-src 'none'; script-src 'self'; style-src 'self'/);
  assert.equal(app.headers['cache-control'], 'no-store');
  assert.ok(app.text.includes(`<meta name="csrf-token" content="${csrf}">`));
  assert.doesNotMatch(app.text, /<script(?![^>]*\bsrc=)[^>]*>|style=/, 'no inline script or style');
  const asset = /\/dashboard\/assets\/(app-[^"]+\.js)/.exec(app.text)?.[1] as string;
  const js = await admin(gw, `/dashboard/assets/${asset}`);
  assert.equal(js.status, 200);
  assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.match(String(js.headers['content-type']), /^text\/javascript/);
  assert.equal((await admin(gw, '/dashboard/assets/..%2F..%2Fpackage.json')).status, 404);

  assert.equal((await admin(gw, '/dashboard/logout', { method: 'POST', headers: { cookie } })).status, 403, 'signing out needs the CSRF token');
  const out = await admin(gw, '/dashboard/logout', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } });
  assert.equal(out.status, 204);
  assert.match(String(out.headers['set-cookie']), /tg_session=; .*Max-Age=0/);
  assert.equal((await admin(gw, '/dashboard/api/session', { headers: { cookie } })).status, 401, 'the session is gone');
  assert.equal((await admin(gw, '/dashboard/', { headers: { cookie } })).status, 303);

  // Three wrong tokens are the burst; the fourth is slowed down, the right token included, until the wait is over.
  for (let i = 0; i < 3; i++) {
    const wrong = await admin(gw, '/dashboard/login', form(`wrong-${i}`));
    assert.equal(wrong.status, 401);
    assert.match(wrong.text, /<p class="login-error" role="alert">That is not an admin token\.<\/p>/);
  }
  const slowed = await admin(gw, '/dashboard/login', form(TOKEN));
  assert.equal(slowed.status, 429);
  assert.match(slowed.text, /Too many failed sign-ins from your address: try again in \d+ s\./);
  assert.ok(Number(slowed.headers['retry-after']) > 0);
  assert.ok(!gw.logs.some((l) => JSON.stringify(l).includes('wrong-')), 'a presented token is never logged');
});

test('the admin API takes a session instead of a token: reads as they are, changes only with the CSRF token from the same origin, audited as the token', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(yaml(up.url));
  t.after(() => Promise.all([gw.close(), up.close()]));
  const { cookie, csrf } = await signIn(gw);
  assert.equal((await admin(gw, '/v1/routes', { headers: { cookie } })).status, 200);
  assert.equal((await admin(gw, '/v1/routes', { headers: { cookie: 'tg_session=forged' } })).status, 401);
  const block = (headers: Record<string, string>) =>
    admin(gw, '/v1/limits/ip:127.0.0.1', { method: 'PUT', headers: { cookie, 'content-type': 'application/json', ...headers }, body: JSON.stringify({ block: true, expires_in: '1h' }) });
  const noCsrf = await block({});
  assert.equal(noCsrf.status, 403);
  assert.equal(noCsrf.json().error, 'forbidden');
  assert.equal((await block({ 'x-csrf-token': 'guess' })).status, 403);
  assert.equal((await block({ 'x-csrf-token': csrf, origin: 'http://evil.example' })).status, 403, 'another origin');
  assert.equal((await send(gw.url, '/api/x')).status, 200, 'nothing was set by the refused calls');
  const done = await block({ 'x-csrf-token': csrf, origin: gw.adminUrl as string });
  assert.equal(done.status, 200, done.text);
  assert.equal((await send(gw.url, '/api/x')).status, 403, 'blocked at the gateway');
  const audit = gw.logs.find((l) => l.audit === 'override_set');
  assert.equal(audit?.who, 'ops', 'the audit line names the token id of the session');
  assert.equal((await admin(gw, '/v1/limits/ip:127.0.0.1', { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } })).status, 200);
  assert.equal((await send(gw.url, '/api/x')).status, 200, 'unblocked');
  // A bearer token still works as before, and wins over a cookie.
  assert.equal((await admin(gw, '/v1/routes', { headers: { cookie, authorization: 'Bearer wrong' } })).status, 401);
});

test('streams need a session; the dashboard is only on the admin listener, and admin.dashboard: false turns it off', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(yaml(up.url));
  const off = await startGateway(yaml(up.url, ', dashboard: false'));
  t.after(() => Promise.all([gw.close(), off.close(), up.close()]));
  assert.equal((await admin(gw, '/dashboard/api/stream?topic=overview')).status, 401);
  const { cookie } = await signIn(gw);
  assert.equal((await admin(gw, '/dashboard/api/stream?topic=nope', { headers: { cookie } })).json().error, 'bad_request');
  assert.equal((await send(gw.url, '/dashboard/')).status, 404, 'never on the gateway port');
  assert.equal((await send(off.adminUrl as string, '/dashboard/login')).status, 401, 'off: an unknown admin path');
});

test('the session of a token removed by a reload ends with it', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(yaml(up.url));
  t.after(() => Promise.all([gw.close(), up.close()]));
  const { cookie } = await signIn(gw);
  const { parseConfig } = await import('../../src/index.js');
  await gw.gateway.reload(parseConfig(yaml(up.url).replace('id: ops', 'id: other'), 'test.yaml'));
  assert.equal((await admin(gw, '/dashboard/api/session', { headers: { cookie } })).status, 401);
});

test('an open stream ends when its session does, and closing the gateway ends every stream at once', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(yaml(up.url));
  t.after(() => up.close());
  const { cookie, csrf } = await signIn(gw);
  const ended = (path: string) =>
    new Promise<number>((resolve, reject) => {
      const started = performance.now();
      const req = request(`${gw.adminUrl}${path}`, { headers: { cookie } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.resume();
        res.on('end', () => resolve(performance.now() - started));
        res.on('error', () => resolve(performance.now() - started));
      });
      req.on('error', reject);
      req.end();
    });
  const first = ended('/dashboard/api/stream?topic=overview');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await admin(gw, '/dashboard/logout', { method: 'POST', headers: { cookie, 'x-csrf-token': csrf } })).status, 204);
  const afterSignOut = await first;
  assert.ok(afterSignOut < 10_000, `the stream ended after sign-out (${Math.round(afterSignOut)} ms)`);

  const again = await signIn(gw);
  const second = new Promise<void>((resolve) => {
    request(`${gw.adminUrl}/dashboard/api/stream?topic=routes`, { headers: { cookie: again.cookie } }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', () => resolve());
    }).end();
  });
  await new Promise((r) => setTimeout(r, 300));
  const closing = performance.now();
  await gw.close();
  await second;
  assert.ok(performance.now() - closing < 10_000, 'close() did not wait on the open stream');
});

test('a session ends when its token changes under the same id; the session cookie never reaches an upstream; repeated parameters are a 400', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(yaml(up.url));
  t.after(() => Promise.all([gw.close(), up.close()]));
  const { cookie } = await signIn(gw);
  assert.equal((await admin(gw, '/dashboard/api/stream?topic=clients&q=a&q=b', { headers: { cookie } })).status, 400);
  assert.equal((await admin(gw, '/dashboard/api/stream?topic=overview&topic=routes', { headers: { cookie } })).status, 400);

  await send(gw.url, '/api/a', { headers: { cookie: `a=1; ${cookie}; b=2` } });
  await send(gw.url, '/api/b', { headers: { cookie } });
  const seen = up.seen.filter((r) => r.url === '/api/a' || r.url === '/api/b');
  assert.equal(seen[0]?.headers.cookie, 'a=1; b=2', 'the other cookies pass as sent');
  assert.equal(seen[1]?.headers.cookie, undefined, 'nothing left: no Cookie header at all');

  // A rotation: same id, another token. The old token's sessions end with it.
  const { parseConfig } = await import('../../src/index.js');
  await gw.gateway.reload(parseConfig(yaml(up.url).replace(TOKEN, `${TOKEN}-rotated`), 'test.yaml'));
  assert.equal((await admin(gw, '/dashboard/api/session', { headers: { cookie } })).status, 401);
});
