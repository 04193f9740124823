import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/index.js';
import { createReloader } from '../../src/gateway/reload.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { configInfo, scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';

/** Reloads the way a caller of the public API does: parse (which may throw), then reload. */
const reload = (gw: TestGateway, yaml: string) => gw.gateway.reload(parseConfig(yaml, 'test.yaml', {}));

/** An upstream handler that answers `<name> <path>`, so a response says which upstream served it. */
const named = (name: string) => (req: IncomingMessage, res: ServerResponse) => res.writeHead(200).end(`${name} ${req.url}`);

const connections = (server: Server) => new Promise<number>((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));

const errorLines = (gw: TestGateway) => gw.logs.filter((l) => Number(l.level) >= 50);

/** One GET on a kept-alive agent; `reused` says whether it rode a connection an earlier request opened. */
function get(agent: Agent, base: string, path: string, onSocket?: (socket: Socket) => void) {
  return new Promise<{ status: number; text: string; reused: boolean }>((resolve, reject) => {
    const req = request(new URL(path, base), { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), reused: req.reusedSocket }));
      res.on('error', reject);
    });
    if (onSocket) req.once('socket', onSocket);
    req.on('error', reject);
    req.end();
  });
}

test('a reload swaps routes: a path that 404ed now routes to the new upstream, a removed route 404s', async (t) => {
  const a = await startUpstream(named('A'));
  const b = await startUpstream(named('B'));
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/old', upstream: a.url }])}`);
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));

  assert.equal((await send(gw.url, '/old/x')).text, 'A /old/x');
  assert.equal((await send(gw.url, '/new/x')).status, 404);

  const { ignored } = await reload(gw, `routes:\n${routesYaml([{ path: '/new', upstream: b.url }])}`);
  assert.deepEqual(ignored, []);
  const moved = await send(gw.url, '/new/x');
  assert.equal(moved.status, 200);
  assert.equal(moved.text, 'B /new/x');
  assert.equal((await send(gw.url, '/old/x')).status, 404);
  assert.equal(a.seen.length, 1, 'the removed route sent nothing more to its upstream');
  assert.deepEqual(gw.gateway.config.routes.map((r) => r.path), ['/new']);
});

test('an in-flight request finishes on the config it started with; the old app closes once it ends', async (t) => {
  let release: () => void = () => {};
  const a = await startUpstream((req, res) => {
    const answer = () => res.writeHead(200).end(`A ${req.url}`);
    if (req.url === '/api/slow') release = answer;
    else answer();
  });
  const b = await startUpstream(named('B'));
  const config = (upstream: string) => `routes:\n${routesYaml([{ path: '/api', upstream }])}`;
  const gw = await startGateway(config(a.url));
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => {
    agent.destroy();
    return Promise.all([gw.close(), a.close(), b.close()]);
  });

  assert.equal((await get(agent, gw.url, '/api/warm')).text, 'A /api/warm');
  const slow = send(gw.url, '/api/slow');
  await waitFor('A to hold /api/slow', () => a.seen.some((s) => s.url === '/api/slow'));
  await reload(gw, config(b.url));

  // A new request on the connection that was open before the swap goes to the new config.
  const after = await get(agent, gw.url, '/api/after');
  assert.equal(after.text, 'B /api/after');
  assert.ok(after.reused, 'the request rode the connection opened before the reload');
  assert.ok((await connections(a.server)) > 0, 'the old app keeps its pool while its request is in flight');

  release();
  const res = await slow;
  assert.equal(res.status, 200);
  assert.equal(res.text, 'A /api/slow');
  assert.equal(gw.accessLines().find((l) => l.path === '/api/slow')?.upstream, a.url);

  // Its last request over, the old app is closed: its undici pool lets go of A's keep-alive sockets.
  await waitFor('the old app to close its connections to A', async () => (await connections(a.server)) === 0);
  assert.equal(a.seen.length, 2);
  assert.deepEqual(errorLines(gw), []);
});

test('buckets of policies a reload keeps survive it: the default policy and a route policy', async (t) => {
  const up = await startUpstream();
  const routes = [
    { path: '/api', upstream: up.url },
    { path: '/own', upstream: up.url, extra: 'rate_limit: { burst: 4 }' },
  ];
  const base = 'rate_limit: { requests_per_second: 0.001, burst: 3 }\nroutes:\n';
  const gw = await startGateway(base + routesYaml(routes));
  t.after(() => Promise.all([gw.close(), up.close()]));
  const as = (client: string) => ({ headers: { 'x-api-key': client } });

  for (const path of ['/api/1', '/api/2', '/own/1', '/own/2']) assert.equal((await send(gw.url, path, as('c1'))).status, 200, path);
  assert.equal((await send(gw.url, '/api/peek', as('c2'))).headers['x-ratelimit-remaining'], '2');

  // Something else changes: a new route, put first so every route index shifts (buckets are keyed by policy id, not index).
  await reload(gw, base + routesYaml([{ path: '/extra', upstream: up.url }, ...routes]));
  assert.deepEqual(gw.gateway.config.routes.map((r) => r.path), ['/extra', '/api', '/own']);

  const third = await send(gw.url, '/api/3', as('c1'));
  assert.equal(third.status, 200);
  assert.equal(third.headers['x-ratelimit-remaining'], '0');
  assert.equal((await send(gw.url, '/api/4', as('c1'))).status, 429);
  assert.equal((await send(gw.url, '/api/again', as('c2'))).headers['x-ratelimit-remaining'], '1', 'c2 kept its bucket too');

  // The route's own policy (burst 4, id "/own"): 2 of 4 spent before the reload.
  for (const path of ['/own/3', '/own/4']) assert.equal((await send(gw.url, path, as('c1'))).status, 200, path);
  assert.equal((await send(gw.url, '/own/5', as('c1'))).status, 429);
  // The new route shares the default policy, so c1's default bucket is empty there as well.
  assert.equal((await send(gw.url, '/extra/1', as('c1'))).status, 429);
  assert.equal((await send(gw.url, '/extra/1', as('c3'))).status, 200, 'a new client starts full');
});

test('20 file reloads under load, valid and invalid alternating (20 kept-alive clients): no request fails, no connection drops, both configs serve', { timeout: 20_000 }, async (t) => {
  const LANES = 20;
  const RELOADS = 20;
  const a = await startUpstream(named('A'));
  const b = await startUpstream(named('B'));
  const upstreams = [a, b];
  const configs = upstreams.map((u) => `rate_limit: { requests_per_second: 100000, burst: 100000 }\nroutes:\n${routesYaml([{ path: '/api', upstream: u.url }])}`);
  const invalid = `routes:\n  - path: /api\n    upstream: ${a.url}\n    rate_limit: { requests_per_second: 1, burst: 0 }\n`;
  const gw = await startGateway(configs[0] as string);
  const agent = new Agent({ keepAlive: true, maxSockets: LANES });
  // The CLI's path: a file, reloaded by createReloader (read, validate, swap, count).
  const dir = mkdtempSync(join(tmpdir(), 'tg-reload-'));
  const file = join(dir, 'config.yaml');
  const reloadFile = createReloader(file, gw.gateway, gw.gateway.logger, gw.gateway.metrics, {});
  t.after(() => {
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
    return Promise.all([gw.close(), a.close(), b.close()]);
  });

  let running = true;
  let served = 0;
  let opened = 0;
  let dropped = 0;
  const failures: string[] = [];
  const known = new WeakSet<Socket>();
  const track = (socket: Socket) => {
    if (known.has(socket)) return;
    known.add(socket);
    opened++;
    socket.once('close', () => {
      if (running) dropped++;
    });
  };
  const lane = async (n: number) => {
    for (let i = 0; running; i++) {
      // Every tenth request asks /ready, which must stay 200 through every swap.
      const path = i % 10 === 0 ? '/ready' : `/api/${n}/${i}`;
      try {
        const res = await get(agent, gw.url, path, track);
        if (res.status === 200) served++;
        else failures.push(`${path}: ${res.status} ${res.text}`);
      } catch (err) {
        failures.push(`${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
  };
  const lanes = Array.from({ length: LANES }, (_, n) => lane(n));
  await waitFor('the load to start', () => served >= LANES);

  for (let i = 1; i <= RELOADS; i++) {
    // Valid and invalid files alternate; an invalid one is refused and the live config stays.
    const live = gw.gateway.config;
    writeFileSync(file, invalid);
    assert.equal(await reloadFile('test'), false, `invalid file ${i} refused`);
    assert.equal(gw.gateway.config, live);

    const next = upstreams[i % 2]!;
    const seen = next.seen.length;
    writeFileSync(file, configs[i % 2] as string);
    assert.equal(await reloadFile('test'), true, `valid file ${i} reloaded`);
    // Each generation serves about two requests per client before the next swap.
    await waitFor(`generation ${i} to serve`, () => next.seen.length >= seen + 2 * LANES, 5000, 5);
  }
  running = false;
  await Promise.all(lanes);

  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed requests`);
  assert.equal(dropped, 0, 'no kept-alive connection was closed under a client');
  assert.ok(opened <= LANES, `${opened} connections opened for ${LANES} clients`);
  assert.ok(a.seen.length > 0 && b.seen.length > 0, `A served ${a.seen.length}, B ${b.seen.length}`);
  t.diagnostic(`${served} requests served across ${RELOADS} reloads; A ${a.seen.length}, B ${b.seen.length}`);

  // RELOADS is even: config 0 (A) is live; every app that pointed at B is retired and, with nothing in flight, closed.
  assert.equal(gw.gateway.config.routes[0]?.upstreamOrigin, a.url);
  await waitFor('every retired app to close its pool to B', async () => (await connections(b.server)) === 0);
  assert.equal((await send(gw.url, '/api/last')).text, 'A /api/last');
  const metrics = await scrape(gw.url);
  assert.equal(metrics.get('throttlegate_config_reloads_total{result="ok"}'), RELOADS);
  assert.equal(metrics.get('throttlegate_config_reloads_total{result="error"}'), RELOADS);
  // The refused files logged one error line each; nothing else went wrong.
  assert.equal(errorLines(gw).length, RELOADS);
  assert.ok(errorLines(gw).every((l) => String(l.msg).startsWith('config reload failed, keeping the running config')));
});

test('reload reports restart-only fields it ignored and applies the rest', async (t) => {
  const up = await startUpstream(named('U'));
  const base = `rate_limit: { requests_per_second: 0.001, burst: 5 }\nroutes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`;
  const gw = await startGateway(base);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const portOnly = await reload(gw, `server: { port: ${gw.port === 65535 ? 65534 : gw.port + 1} }\n${base}`);
  assert.deepEqual(portOnly.ignored, ['server.port']);
  assert.equal((gw.gateway.server.address() as { port: number }).port, gw.port, 'still on the old port');
  assert.equal((await send(gw.url, '/api/x')).status, 200);

  const all = await reload(
    gw,
    [
      'server: { host: "::1", port: 1, max_header_bytes: 1024, keep_alive_timeout_ms: 1234 }',
      'store: { type: memory, memory: { max_keys: 1 } }',
      base + routesYaml([{ path: '/added', upstream: up.url }]),
    ].join('\n'),
  );
  assert.deepEqual([...all.ignored].sort(), ['server.host', 'server.max_header_bytes', 'server.port', 'store'].sort());
  // The rest is live: the new route, and timeouts (applied to the running server at once).
  assert.equal((await send(gw.url, '/added/x')).text, 'U /added/x');
  assert.equal(gw.gateway.server.keepAliveTimeout, 1234);
  // The ignored ones keep their running values: the 16 KiB header limit, and the store without its 1-key cap.
  assert.equal((await send(gw.url, '/api/big', { headers: { 'x-big': 'x'.repeat(4096) } })).status, 200);
  assert.equal((await send(gw.url, '/api/c2', { headers: { 'x-api-key': 'second-client' } })).status, 200);

  assert.deepEqual((await reload(gw, `server: { port: 1, host: "::1", max_header_bytes: 1024 }\nstore: { type: memory, memory: { max_keys: 1 } }\n${base}`)).ignored, [], 'compared with the live config');
});

test('throttlegate_config_info switches to the new config hash on reload', async (t) => {
  const up = await startUpstream();
  const first = `routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`;
  const second = `routes:\n${routesYaml([{ path: '/api', upstream: up.url }, { path: '/v2', upstream: up.url }])}`;
  const gw = await startGateway(first);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const before = configInfo(await scrape(gw.url));
  assert.equal(before.size, 1);
  const [h1, v1] = [...before][0]!;
  assert.match(h1, /^[0-9a-f]{12}$/);
  assert.equal(v1, 1);

  await reload(gw, first);
  assert.deepEqual(configInfo(await scrape(gw.url)), before, 'the same config keeps its hash');

  await reload(gw, second);
  const after = configInfo(await scrape(gw.url));
  assert.equal(after.size, 1, 'only the live hash is reported');
  const [h2, v2] = [...after][0]!;
  assert.match(h2, /^[0-9a-f]{12}$/);
  assert.notEqual(h2, h1);
  assert.equal(v2, 1);

  await reload(gw, first);
  assert.deepEqual(configInfo(await scrape(gw.url)), before, 'back to the first config, back to its hash');
});

test('a reload drops the target gauges of a route it removed, and keeps those of routes it kept', async (t) => {
  const a = await startUpstream();
  const b = await startUpstream();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/keep', upstream: a.url }, { path: '/gone', upstream: b.url }])}`);
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));
  const gauges = async () =>
    [...(await scrape(gw.url))]
      .filter(([series]) => /^throttlegate_(upstream_healthy|circuit_state)\{/.test(series))
      .map(([series, value]) => `${series} ${value}`)
      .sort();

  assert.equal((await send(gw.url, '/gone/x')).status, 200);
  await reload(gw, `routes:\n${routesYaml([{ path: '/keep', upstream: a.url }])}`);
  // The old app closes at once (nothing in flight); once its pool has let go of B, it has had its say.
  await waitFor('the old app to close', async () => (await connections(b.server)) === 0);
  assert.equal((await send(gw.url, '/keep/x')).status, 200);
  assert.deepEqual(await gauges(), [
    `throttlegate_circuit_state{route="/keep",target="${a.url}"} 0`,
    `throttlegate_upstream_healthy{route="/keep",target="${a.url}"} 1`,
  ]);
});

test('a reload that races close() leaves nothing running: no pool, no health checks', async (t) => {
  const up = await startUpstream();
  t.after(() => up.close());
  const config = (path: string) => `routes:\n  - path: ${path}\n    upstream: { targets: [{ url: "${up.url}" }], health_check: { path: /hc, interval: 100ms } }\n`;
  const gw = await startGateway(config('/a'));
  await waitFor('the first health check', () => up.seen.some((s) => s.url === '/hc'));

  // Either outcome is fine for the reload (rejected, or applied and then closed); what must not happen is an app left running.
  const reloading = reload(gw, config('/b')).catch((err: unknown) => err);
  await gw.close();
  await reloading;
  // A live pool would keep its kept-alive socket, probing /hc on it every 100 ms.
  await waitFor('no connection left from the closed gateway', async () => (await connections(up.server)) === 0, 1500);
});
