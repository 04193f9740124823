import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';

test('/health, /ready and /metrics are answered by the gateway, never proxied, never limited', async (t) => {
  const up = await startUpstream();
  // A catch-all route with a tiny limit: reserved paths must still not reach it or count against it.
  const gw = await startGateway(`rate_limit: { requests_per_second: 0.1, burst: 1 }\nroutes:\n${routesYaml([{ path: '/', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));
  for (let i = 0; i < 5; i++) {
    const health = await send(gw.url, '/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json(), { status: 'ok' });
    assert.equal(health.headers['x-ratelimit-limit'], undefined);
    const ready = await send(gw.url, '/ready');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.json(), { status: 'ready', store: 'ok' });
    const metrics = await send(gw.url, '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(String(metrics.headers['content-type']), /^text\/plain/);
  }
  assert.equal(up.seen.length, 0, 'nothing was proxied');
  assert.equal((await send(gw.url, '/other')).status, 200, 'the catch-all bucket is still full');
  assert.equal((await send(gw.url, '/health/x')).status, 429, 'only the exact reserved paths are reserved');
});

test('/ready answers 503 with a reason while shutting down', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => up.close());
  const closing = gw.close();
  const r = await send(gw.url, '/ready').catch(() => undefined);
  if (r) assert.equal(r.status, 503, 'either refused outright or 503');
  await closing;
});
