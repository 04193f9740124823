import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from '../helpers/gateway.js';
import { startUpstream } from '../helpers/upstream.js';

// Regression: DELETE with `content-type: application/json` and no body (what `curl -H ... -X DELETE` sends)
// got Fastify's 400 for an empty JSON body, so the override stayed. An empty body is no body.
test('admin: an empty body with a JSON content type is no body; malformed JSON is a 400 bad_request', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(`admin: { token: "empty-body-token-0123456789" }\nrate_limit: { requests_per_second: 1, burst: 1 }\nroutes:\n  - path: /api\n    upstream: ${up.url}\n`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  const headers = { authorization: 'Bearer empty-body-token-0123456789', 'content-type': 'application/json' };
  const put = await fetch(`${gw.adminUrl}/v1/limits/ip:127.0.0.1`, { method: 'PUT', headers, body: '{"block": true}' });
  assert.equal(put.status, 200);
  assert.equal((await fetch(`${gw.url}/api/x`)).status, 403);
  const del = await fetch(`${gw.adminUrl}/v1/limits/ip:127.0.0.1`, { method: 'DELETE', headers });
  assert.equal(del.status, 200, await del.text());
  assert.equal((await fetch(`${gw.url}/api/x`)).status, 200, 'the block is gone');
  const bad = await fetch(`${gw.adminUrl}/v1/check`, { method: 'POST', headers, body: '{"key": ' });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as { error: string }).error, 'bad_request');
});
