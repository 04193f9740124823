import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';

const TOKEN = 'ops-token-0123456789abcdef';

async function setup(t: { after(fn: () => Promise<unknown>): void }) {
  const up = await startUpstream();
  const gw = await startGateway(`admin: { token: "${TOKEN}" }\nrate_limit: { requests_per_second: 1, burst: 5 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const put = (raw: string) =>
    send(gw.adminUrl!, '/v1/limits/ip:127.0.0.1', { method: 'PUT', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: raw });
  return { gw, put };
}

type Problems = { error: string; problems: { path: string; message: string }[] };

// Each bad body, and the fields its 400 must name (every problem, in any order).
const BAD: [string, unknown, string[]][] = [
  ['a string for requests_per_second', { requests_per_second: '5', burst: 3 }, ['requests_per_second']],
  ['missing burst', { requests_per_second: 5 }, ['burst']],
  ['missing both numbers', { expires_in: '1m' }, ['requests_per_second', 'burst']],
  ['an unknown field', { requests_per_second: 5, burst: 3, burts: 3 }, ['burts']],
  ['a bad duration', { requests_per_second: 5, burst: 3, expires_in: '5 minutes' }, ['expires_in']],
  ['a duration without a unit', { requests_per_second: 5, burst: 3, expires_in: '30' }, ['expires_in']],
  ['a zero rate', { requests_per_second: 0, burst: 3 }, ['requests_per_second']],
  ['a fractional burst', { requests_per_second: 5, burst: 1.5 }, ['burst']],
  ['block: false', { block: false }, ['block']],
  ['a block with a bad duration', { block: true, expires_in: 'soon' }, ['expires_in']],
  ['a block with limit fields', { block: true, burst: 3 }, ['burst']],
  ['an array', [], ['']],
  ['null', null, ['']],
  ['a number', 5, ['']],
];

test('PUT /v1/limits/:key with a bad body: 400 bad_request whose problems name each field', async (t) => {
  const { put } = await setup(t);
  for (const [what, body, fields] of BAD) {
    const res = await put(JSON.stringify(body));
    assert.equal(res.status, 400, `${what}: ${res.text}`);
    const answer = res.json<Problems>();
    assert.equal(answer.error, 'bad_request', what);
    assert.deepEqual(answer.problems.map((p) => p.path).sort(), [...fields].sort(), `${what}: ${res.text}`);
    for (const p of answer.problems) assert.ok(p.message.length > 0, what);
  }
  const unknown = (await put('{"requests_per_second":5,"burst":3,"color":"red"}')).json<Problems>().problems;
  assert.deepEqual(unknown, [{ path: 'color', message: 'unknown field' }]);
});

test('a body that is not JSON, or none, is a 400 too', async (t) => {
  const { put } = await setup(t);
  for (const raw of ['{"requests_per_second":', 'burst=3', '']) {
    const res = await put(raw);
    assert.equal(res.status, 400, JSON.stringify(raw));
    assert.equal(res.json<Problems>().error, 'bad_request');
  }
});

test('a refused body changes nothing: no override, no audit line, the client keeps its limit', async (t) => {
  const { gw, put } = await setup(t);
  for (const [, body] of BAD) await put(JSON.stringify(body));
  const shown = await send(gw.adminUrl!, '/v1/limits/ip:127.0.0.1', { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(shown.json<{ override: unknown }>().override, null);
  assert.equal(gw.logs.filter((l) => l.audit !== undefined).length, 0);
  const res = await send(gw.url, '/api/x');
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-ratelimit-limit'], '5');
});
