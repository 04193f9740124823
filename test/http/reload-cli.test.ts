import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';
import { routesYaml, send } from '../helpers/http.js';
import { logLines, serve, type Served } from '../helpers/cli.js';
import { configInfo, reloads, scrape } from '../helpers/metrics.js';
import { waitFor } from '../helpers/wait.js';

const named = (name: string) => (req: IncomingMessage, res: ServerResponse) => res.writeHead(200).end(`${name} ${req.url}`);

const tempDir = (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

const logged = (gw: Served, msg: string) => logLines(gw.output()).filter((l) => String(l.msg).startsWith(msg));

async function start(t: TestContext, file: string): Promise<Served> {
  const gw = await serve(file);
  t.after(() => gw.child.kill('SIGKILL'));
  return gw;
}

async function upstream(t: TestContext, name: string): Promise<TestUpstream> {
  const up = await startUpstream(named(name));
  t.after(() => up.close());
  return up;
}

test('SIGHUP reloads the file: the new route is live, counted ok, logged', { timeout: 15_000 }, async (t) => {
  const up = await upstream(t, 'U');
  // The file is rewritten through a hard link in another directory: same
  // inode, so the gateway reads the new text, but a watch on the gateway's
  // directory hears nothing. This reload can only come from SIGHUP.
  const other = join(tempDir(t), 'config.yaml');
  const file = join(tempDir(t), 'config.yaml');
  writeFileSync(other, `routes:\n${routesYaml([{ path: '/old', upstream: up.url }])}`);
  linkSync(other, file);
  const gw = await start(t, file);
  assert.equal((await send(gw.url, '/new/x')).status, 404);
  const hash = [...configInfo(await scrape(gw.url)).keys()];

  writeFileSync(other, `routes:\n${routesYaml([{ path: '/old', upstream: up.url }, { path: '/new', upstream: up.url }])}`);
  gw.child.kill('SIGHUP');
  const res = await waitFor('/new to route', async () => {
    const r = await send(gw.url, '/new/x');
    return r.status === 200 && r;
  });
  assert.equal(res.text, 'U /new/x');
  assert.equal((await send(gw.url, '/old/x')).status, 200);

  const metrics = await scrape(gw.url);
  assert.equal(reloads(metrics, 'ok'), 1);
  assert.equal(reloads(metrics, 'error'), 0);
  const info = [...configInfo(metrics).keys()];
  assert.equal(info.length, 1);
  assert.notDeepEqual(info, hash, 'config_info moved to the new hash');
  const line = await waitFor('the "config reloaded" log line', () => logged(gw, 'config reloaded')[0]);
  assert.equal(line.trigger, 'SIGHUP');
  assert.equal(line.file, file);
  assert.equal(line.hash, info[0]);
  assert.equal(line.routes, 2);
  assert.ok(gw.child.exitCode === null, 'still running');
});

test('an invalid file picked up by the watcher changes nothing: logged with file and field, counted, still serving and ready', { timeout: 15_000 }, async (t) => {
  const up = await upstream(t, 'U');
  const file = join(tempDir(t), 'config.yaml');
  writeFileSync(file, `routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  const gw = await start(t, file);
  const hash = configInfo(await scrape(gw.url));

  const bad = [
    { yaml: `routes:\n${routesYaml([{ path: '/api', upstream: up.url, extra: 'rate_limit: { requests_per_second: 1, burst: 0 }' }])}`, field: 'routes[0].rate_limit.burst' },
    { yaml: 'routes: []\n', field: 'routes' },
  ];
  for (const [i, { yaml, field }] of bad.entries()) {
    writeFileSync(file, yaml);
    await waitFor(`reload error ${i + 1} to be counted`, async () => reloads(await scrape(gw.url), 'error') === i + 1, 3000);
    const line = await waitFor('the error log line', () => logged(gw, 'config reload failed, keeping the running config')[i]);
    assert.equal(line.level, 50);
    assert.equal(line.trigger, 'file change');
    assert.equal(line.file, file);
    assert.ok(String(line.msg).includes(`${file}: ${field}:`), `message names the file and ${field}: ${String(line.msg)}`);
    const problems = line.problems as { path: string; message: string }[];
    assert.ok(problems.some((p) => p.path === field), `problems name ${field}: ${JSON.stringify(problems)}`);

    // The running config keeps serving, and the gateway stays ready.
    const res = await send(gw.url, '/api/x');
    assert.equal(res.status, 200);
    assert.equal(res.text, 'U /api/x');
    assert.equal((await send(gw.url, '/ready')).status, 200);
    const metrics = await scrape(gw.url);
    assert.equal(reloads(metrics, 'ok'), 0);
    assert.deepEqual(configInfo(metrics), hash, 'config_info still names the running config');
  }
  assert.deepEqual(logged(gw, 'config reloaded'), []);
  assert.ok(gw.child.exitCode === null, 'still running');
});

test('a valid edit is picked up by the file watcher alone (no SIGHUP), in place or by rename', { timeout: 15_000 }, async (t) => {
  const a = await upstream(t, 'A');
  const b = await upstream(t, 'B');
  const dir = tempDir(t);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, `routes:\n${routesYaml([{ path: '/api', upstream: a.url }])}`);
  const gw = await start(t, file);

  // In place, as `echo > file` does.
  let saved = performance.now();
  writeFileSync(file, `routes:\n${routesYaml([{ path: '/api', upstream: b.url }])}`);
  await waitFor('/api to move to B', async () => (await send(gw.url, '/api/x')).text === 'B /api/x', 2000);
  t.diagnostic(`in-place edit live after ${Math.round(performance.now() - saved)} ms`);
  assert.equal(reloads(await scrape(gw.url), 'ok'), 1);

  // By rename over the file, as editors and config management do: the watch is on the directory, so it survives.
  saved = performance.now();
  writeFileSync(join(dir, '.config.yaml.tmp'), `routes:\n${routesYaml([{ path: '/api', upstream: a.url }, { path: '/v2', upstream: b.url }])}`);
  renameSync(join(dir, '.config.yaml.tmp'), file);
  await waitFor('/v2 to route', async () => (await send(gw.url, '/v2/x')).text === 'B /v2/x', 2000);
  t.diagnostic(`renamed-over file live after ${Math.round(performance.now() - saved)} ms`);
  assert.equal((await send(gw.url, '/api/x')).text, 'A /api/x');

  const metrics = await scrape(gw.url);
  assert.equal(reloads(metrics, 'ok'), 2, 'one reload per save (debounced)');
  assert.equal(reloads(metrics, 'error'), 0);
  const lines = await waitFor('two "config reloaded" lines', () => {
    const found = logged(gw, 'config reloaded');
    return found.length === 2 && found;
  });
  for (const line of lines) assert.equal(line.trigger, 'file change');
});

test('a Kubernetes ConfigMap update (the ..data symlink swapped) is picked up by the file watcher', { timeout: 15_000 }, async (t) => {
  const up = await upstream(t, 'U');
  // The kubelet's layout: config.yaml -> ..data/config.yaml, ..data -> ..<version>.
  // An update writes a new version directory and renames a new ..data over the old
  // one: the directory sees events for ..data, never for config.yaml itself.
  const dir = tempDir(t);
  const version = (name: string, paths: string[]) => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'config.yaml'), `routes:\n${routesYaml(paths.map((path) => ({ path, upstream: up.url })))}`);
  };
  version('..v1', ['/old']);
  symlinkSync('..v1', join(dir, '..data'));
  symlinkSync('..data/config.yaml', join(dir, 'config.yaml'));
  const gw = await start(t, join(dir, 'config.yaml'));
  assert.equal((await send(gw.url, '/new/x')).status, 404);

  version('..v2', ['/old', '/new']);
  symlinkSync('..v2', join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  await waitFor('/new to route after the ConfigMap update', async () => (await send(gw.url, '/new/x')).status === 200, 2000);
  assert.equal(reloads(await scrape(gw.url), 'ok'), 1);
});
