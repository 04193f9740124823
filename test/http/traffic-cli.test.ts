import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_MIX, countByClass, generate, originStatus } from '../../src/adaptive/traffic/index.js';
import { LOGIN_PASSWORD } from '../../src/adaptive/traffic/origin-model.js';
import { startOrigin, type RunningOrigin } from '../../src/adaptive/traffic/origin-server.js';
import { runTraffic } from '../../src/adaptive/traffic/runner.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { send } from '../helpers/http.js';

// This file's own build of the CLI (dist-test/src/cli.js under npm test), so it always has `traffic`.
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const cli = promisify(execFile);

/** A gateway as the command's help asks for: X-Forwarded-For believed from 127.0.0.1, adaptive in enforce, a generous limit. */
async function setup(t: { after(fn: () => Promise<unknown>): void }): Promise<{ origin: RunningOrigin; gw: TestGateway }> {
  const origin = await startOrigin();
  const gw = await startGateway(`server: { trust_proxy: 1 }
rate_limit: { requests_per_second: 50, burst: 100, key: ["header:x-api-key", ip], unverified_key_envelope: false }
adaptive: { mode: enforce }
routes:
  - path: /
    upstream: ${origin.url}
`);
  t.after(() => Promise.all([gw.close(), origin.close()]));
  return { origin, gw };
}

test('origin: a failed login 401, a right one 200, an unknown path 404, an item 200', async (t) => {
  const origin = await startOrigin();
  t.after(() => origin.close());
  const login = (password: string) =>
    send(origin.url, '/api/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'a', password }) });
  assert.equal((await login('hunter2')).status, 401);
  assert.equal((await login(LOGIN_PASSWORD)).status, 200);
  assert.equal((await send(origin.url, '/api/login', { method: 'POST', body: 'not json' })).status, 401);
  assert.equal((await send(origin.url, '/.env')).status, 404);
  assert.equal((await send(origin.url, '/api/items/10001')).status, 404);
  const item = await send(origin.url, '/api/items/42?x=1');
  assert.equal(item.status, 200);
  assert.equal(item.json().path, '/api/items/42');
  assert.deepEqual(Object.fromEntries(origin.answered), { 401: 2, 200: 2, 404: 2 });
});

for (const seed of [4, 12]) {
  test(`traffic seed ${seed}: 6 s at speed 3 through an enforcing gateway: every request counted, stuffers and scanners acted on, no browser blocked`, async (t) => {
    const { gw } = await setup(t);
    const run = await runTraffic({ target: gw.url, seed, durationMs: 6_000, speed: 3 });
    const expected = countByClass(generate(DEFAULT_MIX, seed, 6_000));
    const byClass = Object.fromEntries(run.report.classes.map((c) => [c.class, c]));
    for (const [cls, n] of Object.entries(expected)) assert.equal(byClass[cls]?.requests, n, cls);
    assert.equal(run.report.errors, 0);
    for (const cls of ['stuffer', 'scanner']) {
      const c = byClass[cls]!;
      assert.ok(c.refusedShare + c.blockedShare > 0, `${cls}: ${JSON.stringify(c)}`);
      assert.ok(c.firstThrottledS !== null && c.firstThrottledS < 6);
    }
    assert.equal(byClass.browser!.blockedShare, 0);
    assert.equal(run.report.legitimate.clientsBlockedShare, 0);
    // What the gateway let through got the answer the labels assume: the origin and the generator agree.
    run.events.forEach((e, i) => {
      const status = run.statuses[i] as number;
      if (status !== 429 && status !== 403) assert.equal(status, originStatus(e), `${e.client} ${e.method} ${e.path}${e.query}`);
    });
    // trust_proxy: 1 took each simulated address from X-Forwarded-For, so the gateway saw many clients, not one.
    const seen = new Set(gw.accessLines().map((l) => l.client));
    const keyless = new Set(run.events.filter((e) => e.apiKey === undefined && e.ip.includes('.')).map((e) => `ip:${e.ip}`));
    assert.ok(keyless.size >= 10);
    for (const label of keyless) assert.ok(seen.has(label), `${label} not among the gateway's clients`);
  });
}

test('traffic CLI: --json parses and counts the generated requests; --help names trust_proxy; a remote target is refused', async (t) => {
  const { gw } = await setup(t);
  const { stdout } = await cli(process.execPath, [CLI, 'traffic', '--target', gw.url, '--duration', '3s', '--seed', '5', '--speed', '3', '--json']);
  const report = JSON.parse(stdout) as { requests: number; seed: number; classes: { class: string; requests: number }[]; clients: { precision: number | null } };
  assert.equal(report.requests, generate(DEFAULT_MIX, 5, 3_000).length);
  assert.equal(report.seed, 5);
  assert.deepEqual(report.classes.map((c) => c.class), ['browser', 'mobile', 'batch', 'scraper', 'stuffer', 'scanner', 'enumerator']);
  const help = await cli(process.execPath, [CLI, 'traffic', '--help']);
  assert.match(help.stdout, /trust_proxy: 1/);
  await assert.rejects(cli(process.execPath, [CLI, 'traffic', '--target', 'http://192.0.2.1', '--duration', '1s']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 1);
    assert.match(err.stderr, /--allow-remote/);
    return true;
  });
});

test('traffic --origin: prints its URL once ready, answers, and exits 0 on SIGTERM', async () => {
  const child = spawn(process.execPath, [CLI, 'traffic', '--origin', '--port', '0']);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /^origin listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', () => reject(new Error(`origin exited:\n${out}`)));
  });
  assert.equal((await send(url, '/api/categories')).status, 200);
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
