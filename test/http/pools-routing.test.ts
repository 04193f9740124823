import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { send } from '../helpers/http.js';

test('host, methods and rewrite routing end to end', async (t) => {
  const [x, y, z] = await Promise.all([startUpstream(), startUpstream(), startUpstream()]);
  const gw = await startGateway(`routes:
  - { path: /svc, host: api.example.com, upstream: ${x.url} }
  - { path: /svc, host: "*.example.com", upstream: ${y.url} }
  - { path: /svc, upstream: ${z.url} }
  - { path: /hostonly, host: api.example.com, upstream: ${x.url} }
  - { path: /m/sub, methods: [GET], upstream: ${x.url} }
  - { path: /m, upstream: ${y.url} }
  - { path: /only, methods: [GET, HEAD], upstream: ${x.url} }
  - { path: /only, methods: [POST], upstream: { targets: [{ url: ${y.url} }] } }
  - { path: /api, rewrite: { prefix: /v1 }, upstream: ${z.url} }
  - { path: /strip, strip_prefix: true, upstream: ${z.url} }
  - { path: /based, rewrite: { prefix: /v2 }, upstream: { targets: [{ url: ${z.url}/base }] } }
`);
  t.after(() => Promise.all([gw.close(), x.close(), y.close(), z.close()]));
  const ups: [string, TestUpstream][] = [['x', x], ['y', y], ['z', z]];

  /** Which upstream the request reached, and the path it was forwarded with. */
  async function landed(path: string, options: { method?: string; host?: string; body?: string } = {}): Promise<string> {
    const before = ups.map(([, u]) => u.seen.length);
    const headers = options.host === undefined ? {} : { host: options.host };
    const r = await send(gw.url, path, { method: options.method, headers, body: options.body });
    const hit = ups.filter(([, u], i) => u.seen.length > before[i]!);
    if (hit.length === 0) return String(r.status);
    assert.equal(hit.length, 1);
    assert.equal(r.status, 200, r.text);
    const [name, up] = hit[0]!;
    return `${name} ${up.seen.at(-1)!.method} ${up.seen.at(-1)!.url}`;
  }

  // Host: exact beats wildcard beats none; the port and case are ignored; a wildcard needs a subdomain.
  assert.equal(await landed('/svc/a', { host: 'api.example.com' }), 'x GET /svc/a');
  assert.equal(await landed('/svc/a', { host: 'API.Example.COM:8443' }), 'x GET /svc/a');
  assert.equal(await landed('/svc/a', { host: 'www.example.com' }), 'y GET /svc/a');
  assert.equal(await landed('/svc/a', { host: 'a.b.example.com:80' }), 'y GET /svc/a');
  assert.equal(await landed('/svc/a', { host: 'example.com' }), 'z GET /svc/a');
  assert.equal(await landed('/svc/a', { host: 'api.example.com.evil.org' }), 'z GET /svc/a');
  assert.equal(await landed('/hostonly/a', { host: 'api.example.com' }), 'x GET /hostonly/a');
  assert.equal(await landed('/hostonly/a', { host: 'other.example.com' }), '404');

  // Methods: a method the longer route does not take falls through to the next matching route.
  assert.equal(await landed('/m/sub/1'), 'x GET /m/sub/1');
  assert.equal(await landed('/m/sub/1', { method: 'POST', body: 'b' }), 'y POST /m/sub/1');
  // Same path, disjoint methods: each to its own upstream; a method neither takes is 405.
  assert.equal(await landed('/only/1'), 'x GET /only/1');
  assert.equal(await landed('/only/1', { method: 'HEAD' }), 'x HEAD /only/1');
  assert.equal(await landed('/only/1', { method: 'POST', body: 'b' }), 'y POST /only/1');
  const refused = await send(gw.url, '/only/1', { method: 'DELETE' });
  assert.equal(refused.status, 405);
  assert.deepEqual(refused.json(), { error: 'method_not_allowed' });
  assert.equal(x.seen.length + y.seen.length, 10, 'the 405 reached no upstream');

  // rewrite.prefix replaces the route path; the query is kept byte for byte.
  assert.equal(await landed('/api/x?q=1'), 'z GET /v1/x?q=1');
  assert.equal(await landed('/api?q=%2F'), 'z GET /v1?q=%2F');
  assert.equal(await landed('/api/a/b/'), 'z GET /v1/a/b/');
  assert.equal(await landed('/based/x?q=1'), 'z GET /base/v2/x?q=1', 'after the upstream URL\'s own path');
  // strip_prefix still works.
  assert.equal(await landed('/strip/x?q=1'), 'z GET /x?q=1');
  assert.equal(await landed('/strip'), 'z GET /');
});
