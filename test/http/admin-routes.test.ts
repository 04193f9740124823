import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { hashApiKey } from '../../src/limit/api-keys.js';
import { parseConfig } from '../../src/index.js';

const TOKEN = 'ops-token-0123456789abcdef';
const JWT_SECRET = 'jwt-secret-0123456789abcdef';

test('GET /v1/routes: the live route table, each policy\'s limits and key sources, and the plans; no secret in it', async (t) => {
  const up = await startUpstream();
  const yaml = (extraRoute: string) => `admin: { token: "${TOKEN}" }
api_keys:
  - { id: acme, hash: "${hashApiKey('secret-acme')}", plan: pro }
jwt: { algorithm: HS256, secret: "${JWT_SECRET}" }
plans:
  pro: { limits: [ { requests_per_second: 50, burst: 100 } ] }
rate_limit: { requests_per_second: 5, burst: 10 }
routes:
${routesYaml([
    { path: '/api', upstream: up.url, extra: 'methods: [GET, POST]\ncost: 2' },
    { path: '/search', upstream: up.url, extra: 'require_api_key: true\nrate_limit:\n  limits:\n    - { algorithm: fixed_window, limit: 100, window: 1m }\n    - { requests_per_second: 20, burst: 20, scope: route }\n  key: [jwt:sub, header:x-api-key, ip]\n  on_limit: { delay_up_to: 2s, max_queue: 3 }' },
    { path: '/open', upstream: up.url, extra: 'rate_limit: false' },
  ])}${extraRoute}`;
  const gw = await startGateway(yaml(''));
  t.after(() => Promise.all([gw.close(), up.close()]));
  const get = () => send(gw.adminUrl!, '/v1/routes', { headers: { authorization: `Bearer ${TOKEN}` } });
  const res = await get();
  assert.equal(res.status, 200);
  const body = res.json<{ routes: Record<string, unknown>[]; plans: Record<string, unknown> }>();
  assert.deepEqual(body.routes.map((r) => [r.index, r.path, r.upstream, r.cost, r.require_api_key]), [
    [0, '/api', [up.url], 2, false],
    [1, '/search', [up.url], 1, true],
    [2, '/open', [up.url], 1, false],
  ]);
  assert.deepEqual(body.routes[0]!.methods, ['GET', 'POST']);
  assert.deepEqual(body.routes[0]!.policy, {
    id: 'default',
    limits: [{ id: 'default', algorithm: 'token_bucket', scope: 'client', mode: 'enforce', requests_per_second: 5, burst: 10 }],
    key: ['header:x-api-key', 'ip'],
    on_limit: null,
  });
  assert.deepEqual(body.routes[1]!.policy, {
    id: '/search',
    limits: [
      { id: '/search#1', algorithm: 'fixed_window', scope: 'client', mode: 'enforce', limit: 100, window_ms: 60_000 },
      { id: '/search#2', algorithm: 'token_bucket', scope: 'route', mode: 'enforce', requests_per_second: 20, burst: 20 },
    ],
    key: ['jwt:sub', 'header:x-api-key', 'ip'],
    on_limit: { delay_up_to_ms: 2000, max_queue: 3 },
  });
  assert.equal(body.routes[2]!.policy, null, 'rate_limit: false');
  assert.deepEqual(body.plans, { pro: [{ id: 'plan:pro', algorithm: 'token_bucket', scope: 'client', mode: 'enforce', requests_per_second: 50, burst: 100 }] });
  for (const secret of [TOKEN, JWT_SECRET, hashApiKey('secret-acme').slice(7)]) assert.ok(!res.text.includes(secret), 'no token, secret or key hash');

  // The live table: a reload shows at once.
  await gw.gateway.reload(parseConfig(yaml(`  - path: /new\n    upstream: ${up.url}\n`), 'reloaded.yaml', {}));
  const reloaded = (await get()).json<{ routes: { path: string }[] }>();
  assert.deepEqual(reloaded.routes.map((r) => r.path), ['/api', '/search', '/open', '/new']);
});
