import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startUpstream } from '../helpers/upstream.js';
import { routesYaml, send } from '../helpers/http.js';
import { logLines, serve } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';
import { concernsConfig, watchConfigFile } from '../../src/gateway/config-watch.js';
import { createLogger } from '../../src/observability/logging.js';

const named = (name: string) => (req: IncomingMessage, res: ServerResponse) => res.writeHead(200).end(`${name} ${req.url}`);

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-watch-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a saved config is applied while another file in its directory keeps changing (the gateway log beside it)', { timeout: 20_000 }, async (t) => {
  const up = await startUpstream(named('U'));
  t.after(() => up.close());
  const dir = tempDir(t);
  const file = join(dir, 'config.yaml');
  writeFileSync(file, `routes:\n${routesYaml([{ path: '/old', upstream: up.url }])}`);
  const gw = await serve(file);
  t.after(() => gw.child.kill('SIGKILL'));

  // `serve > ./gateway.log` under traffic: the directory never goes quiet for 200 ms.
  const log = join(dir, 'gateway.log');
  const noise = setInterval(() => appendFileSync(log, `${JSON.stringify({ msg: 'request', at: Date.now() })}\n`), 40);
  t.after(() => clearInterval(noise));
  const traffic = setInterval(() => void send(gw.url, '/old/x').catch(() => {}), 100);
  t.after(() => clearInterval(traffic));
  await new Promise((resolve) => setTimeout(resolve, 300));

  const saved = performance.now();
  writeFileSync(file, `routes:\n${routesYaml([{ path: '/old', upstream: up.url }, { path: '/new', upstream: up.url }])}`);
  // Before the fix this never happened: every log write restarted the debounce.
  await waitFor('/new to route while the log keeps changing', async () => (await send(gw.url, '/new/x')).status === 200, 8000, 50);
  t.diagnostic(`applied after ${Math.round(performance.now() - saved)} ms with the log written every 40 ms`);
  const reloaded = logLines(gw.output()).filter((l) => l.msg === 'config reloaded');
  assert.equal(reloaded.length, 1);
  assert.equal(reloaded[0]?.trigger, 'file change');
});

test('only events that can concern the config restart the debounce: its name, the ConfigMap link, an unnamed event', () => {
  assert.equal(concernsConfig('config.yaml', 'config.yaml'), true);
  assert.equal(concernsConfig('config.yaml', Buffer.from('config.yaml')), true);
  assert.equal(concernsConfig('config.yaml', '..data'), true);
  assert.equal(concernsConfig('config.yaml', null), true);
  assert.equal(concernsConfig('config.yaml', 'gateway.log'), false);
  assert.equal(concernsConfig('config.yaml', '..data_tmp'), false);
  assert.equal(concernsConfig('config.yaml', 'config.yaml.swp'), false);
});

test('when watching cannot start, one warn line says so and that SIGHUP still reloads', () => {
  const lines: string[] = [];
  const logger = createLogger('info', new Writable({ write: (chunk: Buffer, _enc, done) => (lines.push(chunk.toString()), done()) }));
  const stop = watchConfigFile(join(tmpdir(), 'tg-no-such-dir', 'nested', 'config.yaml'), () => assert.fail('no change can be seen'), logger);
  stop();
  logger.flush();
  const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.level === 40);
  assert.equal(warned.length, 1);
  assert.equal(warned[0]?.code, 'ENOENT');
  assert.match(String(warned[0]?.msg), /config file watch is off .*SIGHUP/);
});
