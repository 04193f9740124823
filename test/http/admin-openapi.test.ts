import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { adminSend } from '../helpers/admin.js';
import { buildAdminApp } from '../../src/admin/app.js';
import { openApiDocument } from '../../src/admin/openapi.js';
import { checkBody, clientKeyParam, explainQuery, overrideBody } from '../../src/admin/schemas.js';

const TOKEN = 'ops-token-0123456789abcdef';

type Operation = { requestBody?: { content: Record<string, { schema: object }> }; parameters?: { name: string; in: string; required: boolean; schema: object }[]; responses: Record<string, unknown> };
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>> };

async function setup(t: { after(fn: () => Promise<unknown>): void }) {
  const up = await startUpstream();
  const gw = await startGateway(`admin: { token: "${TOKEN}" }\nrate_limit: { requests_per_second: 100, burst: 100 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const res = await send(gw.adminUrl!, '/v1/openapi.json', { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  return { gw, doc: res.json<Doc>() };
}

const call = (gw: TestGateway, method: string, path: string, body?: unknown) => adminSend(gw, TOKEN, method, path, body);
const bodySchema = (op: Operation | undefined) => op?.requestBody?.content['application/json']?.schema;

test('GET /v1/openapi.json validates as an OpenAPI document and is the one openapi.ts builds', async (t) => {
  const { doc } = await setup(t);
  const result = await new Validator().validate(doc);
  assert.deepEqual(result.errors, undefined, JSON.stringify(result.errors, null, 2));
  assert.equal(result.valid, true);
  assert.match(doc.openapi, /^3\.1\./);
  assert.deepEqual(doc, JSON.parse(JSON.stringify(openApiDocument())));
});

test('the document lists every /v1 route the admin app serves, with its methods, and no other', async (t) => {
  const { gw, doc } = await setup(t);
  const app = await buildAdminApp({ config: () => gw.gateway.config, store: gw.gateway.store, overrides: gw.gateway.overrides, logger: gw.gateway.logger, metrics: gw.gateway.metrics, readiness: () => ({ ready: true, store: 'ok' }) });
  t.after(() => app.close());
  // printRoutes without a common prefix: "├── /v1/limits/:key (GET, HEAD, PUT, DELETE)", but a path that extends a
  // served one prints as a child line ("│   └── /:key (GET, HEAD)" under "/v1/clients"): rebuilt from the indentation.
  const served = new Map<string, string[]>();
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (\/\S*)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth;
    const full = (stack[depth - 1] ?? '') + (m[2] as string);
    stack.push(full);
    const path = full.replace(/:(\w+)/g, '{$1}');
    if (m[3] && path.startsWith('/v1/')) served.set(path, m[3].split(', ').filter((x) => x !== 'HEAD').map((x) => x.toLowerCase()).sort());
  }
  assert.ok(served.size >= 5, [...served.keys()].join(' '));
  const documented = new Map(Object.entries(doc.paths).map(([path, ops]) => [path, Object.keys(ops).sort()]));
  assert.deepEqual(documented, served);
});

test('every status an operation answers is documented for it', async (t) => {
  const { gw, doc } = await setup(t);
  const seen: [string, string, number][] = [];
  const hit = async (method: string, docPath: string, path: string, body?: unknown) => seen.push([docPath, method.toLowerCase(), (await call(gw, method, path, body)).status]);
  await send(gw.adminUrl!, '/v1/routes').then((r) => seen.push(['/v1/routes', 'get', r.status]));
  await send(gw.adminUrl!, '/v1/openapi.json').then((r) => seen.push(['/v1/openapi.json', 'get', r.status]));
  await hit('GET', '/v1/routes', '/v1/routes');
  await hit('GET', '/v1/limits/{key}', '/v1/limits/ip:127.0.0.1');
  await hit('GET', '/v1/limits/{key}', `/v1/limits/${'k'.repeat(600)}`);
  await hit('PUT', '/v1/limits/{key}', '/v1/limits/blocked', { block: true });
  await hit('PUT', '/v1/limits/{key}', '/v1/limits/blocked', { block: 'yes' });
  await hit('DELETE', '/v1/limits/{key}', '/v1/limits/nobody');
  await hit('POST', '/v1/check', '/v1/check', { key: 'k' });
  await hit('POST', '/v1/check', '/v1/check', { key: 'k', cost: 1000 });
  await hit('POST', '/v1/check', '/v1/check', { key: 'k', policy: 'nope' });
  await hit('POST', '/v1/check', '/v1/check', { key: 'blocked' });
  await hit('POST', '/v1/check', '/v1/check', {});
  await hit('GET', '/v1/explain', '/v1/explain?path=/api/x');
  await hit('GET', '/v1/explain', '/v1/explain');
  await hit('DELETE', '/v1/limits/{key}', '/v1/limits/blocked');
  assert.deepEqual(new Set(seen.map((s) => s[2])), new Set([200, 400, 401, 403, 404, 429]), 'the calls cover every status');
  for (const [path, method, status] of seen) {
    assert.ok(doc.paths[path]?.[method]?.responses[String(status)] !== undefined, `${method.toUpperCase()} ${path} answers ${status}: documented?`);
  }
});

test('request schemas in the document are the ones schemas.ts exports and the app enforces', async (t) => {
  const { gw, doc } = await setup(t);
  const check = doc.paths['/v1/check']?.post;
  const put = doc.paths['/v1/limits/{key}']?.put;
  assert.deepEqual(bodySchema(check), JSON.parse(JSON.stringify(checkBody)));
  assert.deepEqual(bodySchema(put), JSON.parse(JSON.stringify(overrideBody)));
  for (const method of ['get', 'put', 'delete']) {
    assert.deepEqual(doc.paths['/v1/limits/{key}']?.[method]?.parameters?.[0], { name: 'key', in: 'path', required: true, schema: clientKeyParam.properties.key });
  }
  const explainParams = doc.paths['/v1/explain']?.get?.parameters ?? [];
  for (const [name, schema] of Object.entries(explainQuery.properties)) {
    assert.deepEqual(explainParams.find((p) => p.name === name), { name, in: 'query', required: name === 'path', schema: JSON.parse(JSON.stringify(schema)) });
  }

  // The document's schema accepts a body exactly when the app does (a 400 is the app refusing it).
  const ajv = new Ajv2020({ strict: false });
  const cases: [string, Operation | undefined, unknown[]][] = [
    ['/v1/check', check, [
      { key: 'k' }, { key: 'k', policy: 'default', cost: 3, dry_run: true }, {}, { key: '' }, { key: 5 }, { key: 'k'.repeat(513) }, { key: 'k', policy: '' },
      { key: 'k', cost: 0 }, { key: 'k', cost: 1.5 }, { key: 'k', cost: 2_000_000 }, { key: 'k', dry_run: 'yes' }, { key: 'k', extra: 1 }, [], 'k', null,
    ]],
    ['/v1/limits/tenant', put, [
      { requests_per_second: 1, burst: 1 }, { requests_per_second: 0.5, burst: 2, expires_in: '10m' }, { block: true }, { block: true, expires_in: '1.5h' },
      {}, { requests_per_second: '1', burst: 1 }, { requests_per_second: 1 }, { requests_per_second: 0, burst: 1 }, { requests_per_second: 1, burst: 0.5 },
      { requests_per_second: 1, burst: 1, expires_in: '1 h' }, { requests_per_second: 1, burst: 1, block: true }, { block: false }, { block: true, burst: 1 }, [], 5, null,
    ]],
  ];
  for (const [path, op, bodies] of cases) {
    const valid = ajv.compile(bodySchema(op) as object);
    for (const body of bodies) {
      const status = (await call(gw, path === '/v1/check' ? 'POST' : 'PUT', path, body)).status;
      assert.equal(status !== 400, valid(body), `${path} ${JSON.stringify(body)}: app ${status}, document ${valid(body) ? 'accepts' : 'refuses'}`);
    }
  }
});
