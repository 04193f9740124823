import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { rawAdmin } from '../helpers/admin.js';
import { parseConfig } from '../../src/index.js';
import { ConfigError } from '../../src/config/problems.js';

const OPS = 'ops-token-0123456789abcdef';
const CI = 'ci-token-fedcba9876543210';

async function setup(t: { after(fn: () => Promise<unknown>): void }, admin: string) {
  const up = await startUpstream();
  const gw = await startGateway(`${admin}rate_limit: { requests_per_second: 1, burst: 5 }\nroutes:\n${routesYaml([{ path: '/', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  assert.ok(gw.adminUrl !== undefined, 'admin: configured, so the admin listener is up');
  return { up, gw, adminUrl: gw.adminUrl };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const putBlock = (adminUrl: string, key: string, token: string) =>
  send(adminUrl, `/v1/limits/${encodeURIComponent(key)}`, { method: 'PUT', headers: { ...bearer(token), 'content-type': 'application/json' }, body: '{"block":true}' });

test('every /v1 call needs the bearer token: missing or wrong is 401 unauthorized, right is 200', async (t) => {
  // Room for the 27 failures below (the throttle is in test/security/admin-auth.test.ts).
  const { up, adminUrl } = await setup(t, `admin: { token: "${OPS}", auth_failures: { burst: 100, per_minute: 60 } }\n`);
  for (const headers of [{}, bearer('wrong-token-0123456789'), bearer(OPS.slice(0, -1)), { authorization: OPS }, { authorization: `Basic ${OPS}` }]) {
    for (const path of ['/v1/routes', '/v1/limits/ip:127.0.0.1', '/v1/explain?path=/x', '/v1/openapi.json', '/v1/nothing-here']) {
      const res = await send(adminUrl, path, { headers });
      assert.equal(res.status, 401, `${path} with ${JSON.stringify(headers)}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.deepEqual(res.json(), { error: 'unauthorized' });
    }
  }
  const refusedPost = await send(adminUrl, '/v1/check', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"key":"k"}' });
  assert.equal(refusedPost.status, 401, 'refused before the body is read or validated');
  const refusedPut = await putBlock(adminUrl, 'ip:127.0.0.1', 'wrong-token-0123456789');
  assert.equal(refusedPut.status, 401);

  const ok = await send(adminUrl, '/v1/routes', { headers: bearer(OPS) });
  assert.equal(ok.status, 200);
  assert.equal((ok.json() as { routes: unknown[] }).routes.length, 1);
  assert.equal((await send(adminUrl, '/v1/nothing-here', { headers: bearer(OPS) })).status, 404, 'authenticated, then not found');
  assert.equal((await send(adminUrl, '/health')).status, 200, '/health answers without a token');
  assert.equal(up.seen.length, 0, 'no admin call reached the origin');
});

test('tokens: each id authenticates with its own token, and the audit line names that id', async (t) => {
  const { gw, adminUrl } = await setup(t, `admin:\n  tokens:\n    - { id: ops, token: "${OPS}" }\n    - { id: ci-bot, token: "${CI}" }\n`);
  assert.equal((await putBlock(adminUrl, 'ip:192.0.2.1', CI)).status, 200);
  assert.equal((await putBlock(adminUrl, 'ip:192.0.2.2', OPS)).status, 200);
  const audits = gw.logs.filter((l) => l.audit === 'override_set');
  assert.deepEqual(audits.map((l) => [l.who, l.key]), [['ci-bot', 'ip:192.0.2.1'], ['ops', 'ip:192.0.2.2']]);
  const shown = await send(adminUrl, '/v1/limits/ip:192.0.2.1', { headers: bearer(OPS) });
  assert.equal((shown.json() as { override: { set_by: string } }).override.set_by, 'ci-bot');
  const text = gw.logs.map((l) => JSON.stringify(l)).join('\n');
  assert.ok(!text.includes(OPS) && !text.includes(CI), 'no log line carries a token');
});

test('the admin API is served on the admin port only: its paths on the gateway port go to the routes', async (t) => {
  const { up, gw, adminUrl } = await setup(t, `admin: { token: "${OPS}" }\n`);
  assert.notEqual(new URL(adminUrl).port, String(gw.port));
  // The gateway's `/` route proxies /v1/routes like any path: it is the origin answering, not the admin API.
  const viaGateway = await send(gw.url, '/v1/routes', { headers: bearer(OPS) });
  assert.equal(viaGateway.status, 200);
  assert.equal((viaGateway.json() as { url: string }).url, '/v1/routes', 'the origin echoed it');
  assert.equal(up.seen.length, 1);
  assert.equal(gw.accessLines()[0]?.route, '/');
  // And the admin listener serves no gateway route.
  const viaAdmin = await send(adminUrl, '/anything', { headers: bearer(OPS) });
  assert.equal(viaAdmin.status, 404);
  assert.deepEqual(viaAdmin.json(), { error: 'not_found' });
  assert.equal(up.seen.length, 1, 'the admin listener proxies nothing');
});

test('config: admin.port equal to server.port is refused; a token shorter than 16 or a missing token too', () => {
  const routes = 'routes:\n  - { path: /, upstream: "http://127.0.0.1:1" }\n';
  const problemsOf = (yaml: string): string[] => {
    try {
      parseConfig(yaml, 'admin.yaml', {});
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems.map((p) => p.path);
    }
    return [];
  };
  assert.ok(problemsOf(`server: { port: 9000 }\nadmin: { port: 9000, token: "${OPS}" }\n${routes}`).includes('admin.port'));
  assert.ok(problemsOf(`admin: { port: 8080, token: "${OPS}" }\n${routes}`).includes('admin.port'), 'the default server port counts');
  assert.deepEqual(problemsOf(`server: { port: 9000 }\nadmin: { port: 9001, token: "${OPS}" }\n${routes}`), []);
  assert.ok(problemsOf(`admin: { token: "short" }\n${routes}`).some((p) => p.startsWith('admin.token')));
  assert.ok(problemsOf(`admin: { port: 9901 }\n${routes}`).includes('admin.token'));
  assert.deepEqual(problemsOf(`admin: { token: "${OPS}", auth_failures: { burst: 5, per_minute: 0.5 } }\n${routes}`), []);
  for (const bad of ['{ burst: 0 }', '{ per_minute: 0 }', '{ burst: 2.5 }', '{ burst: 5, per_hour: 1 }']) {
    assert.ok(problemsOf(`admin: { token: "${OPS}", auth_failures: ${bad} }\n${routes}`).some((p) => p.startsWith('admin.auth_failures')), bad);
  }
});

test('auth_failures defaults to a burst of 10 and 6 a minute', () => {
  const config = parseConfig(`admin: { token: "${OPS}" }\nroutes:\n  - { path: /, upstream: "http://127.0.0.1:1" }\n`, 'admin.yaml', {});
  assert.deepEqual(config.admin?.authFailures, { burst: 10, perMinute: 6 });
});

test('every admin error is in the admin format: a malformed request, a bad escape, a body too large, a media type', async (t) => {
  const { gw } = await setup(t, `admin: { token: "${OPS}" }\n`);
  const auth = `\r\nauthorization: Bearer ${OPS}`;
  const answers = [
    [400, 'bad_request', await rawAdmin(gw, 'GET ?/v1/routes HTTP/1.1\r\nhost: x')],
    [400, 'bad_request', await rawAdmin(gw, `GET /v1/%zz HTTP/1.1\r\nhost: x${auth}`)],
    [401, 'unauthorized', await rawAdmin(gw, `GET /v1/limits/${'k'.repeat(1100)} HTTP/1.1\r\nhost: x`)],
    [414, 'uri_too_long', await rawAdmin(gw, `GET /v1/limits/${'k'.repeat(1100)} HTTP/1.1\r\nhost: x${auth}`)],
    [413, 'payload_too_large', await rawAdmin(gw, `POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json${auth}`, `{"key":"${'k'.repeat(70_000)}"}`)],
    [415, 'unsupported_media_type', await rawAdmin(gw, `POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-type: application/xml${auth}`, '<key/>')],
    [400, 'bad_request', await rawAdmin(gw, `POST /v1/check HTTP/1.1\r\nhost: x\r\ncontent-type: application/json${auth}`, '{not json')],
  ] as const;
  for (const [status, error, res] of answers) {
    assert.equal(res.status, status, res.body);
    assert.match(res.headers['content-type'] ?? '', /^application\/json/, res.body);
    assert.equal((JSON.parse(res.body) as { error: string }).error, error, res.body);
    assert.ok(!res.body.includes('statusCode') && !res.body.includes('FST_'), `no Fastify default body: ${res.body}`);
  }
});
