import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, writeConfig, logLines, type Served } from '../helpers/cli.js';
import { flood } from '../helpers/flood.js';
import { send } from '../helpers/http.js';
import { samples, scrape } from '../helpers/metrics.js';
import { freePort } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `server.workers: N` end to end, memory store: the real CLI (a primary and
 * N node:cluster workers on one port), real origins, real sockets. Each test
 * spreads its traffic over the workers (node:cluster hands new connections
 * round-robin) and proves it from the access lines' `worker` field, so a
 * limit that held only because one worker served everything cannot pass.
 */

const TOKEN = 'workers-e2e-admin-token-0123456789';
const RATE = 0.01;
const BURST = 50;
const FLOOD_S = 3;
// Every test ends, passing or failing, within this (a hang reads as the step that never finished).
const BOUNDED = { timeout: 40_000 };

/** An origin that counts what reached it: total, in flight now, most in flight at once. */
interface Origin {
  readonly url: string;
  readonly count: number;
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** hold mode: answers every request held so far. */
  releaseAll(): void;
  close(): Promise<void>;
}

async function startOrigin(t: TestContext, mode: 'answer' | 'hold' = 'answer'): Promise<Origin> {
  let count = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  let held: ServerResponse[] = [];
  // In flight ends when the origin answers, before the gateway sees the answer: never an overcount against the gateway.
  const answer = (res: ServerResponse) => {
    inFlight--;
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  };
  const server = createServer((req, res) => {
    count++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    req.resume();
    if (mode === 'hold') held.push(res);
    else answer(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin: Origin = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get count() {
      return count;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    releaseAll() {
      const now = held;
      held = [];
      now.forEach(answer);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  t.after(() => origin.close());
  return origin;
}

/** Runs the CLI on `yaml`; stopped (SIGTERM, then SIGKILL) when the test ends. */
async function startCluster(t: TestContext, yaml: string): Promise<Served & { file: string }> {
  const file = writeConfig(yaml);
  const gw = await serve(file);
  t.after(() => stop(gw));
  return { ...gw, file };
}

async function stop(gw: Served): Promise<void> {
  if (gw.child.exitCode !== null || gw.child.signalCode !== null) return;
  gw.child.kill('SIGTERM');
  const timer = setTimeout(() => gw.child.kill('SIGKILL'), 15_000);
  await gw.exited;
  clearTimeout(timer);
}

/** The log label of an API key nothing verifies (`key:` + a SHA-256 prefix), as access lines name the client. */
function label(apiKey: string): string {
  return `key:${createHash('sha256').update(apiKey).digest('hex').slice(0, 12)}`;
}

type Line = Record<string, unknown>;

function accessLines(gw: Served, match: (line: Line) => boolean = () => true): Line[] {
  return logLines(gw.output()).filter((l) => l.msg === 'request' && match(l));
}

/** Waits until at least `n` access lines match (workers write their lines in batches, a moment after answering). */
function linesFor(gw: Served, n: number, match: (line: Line) => boolean): Promise<Line[]> {
  return waitFor(`${n} access lines`, () => {
    const lines = accessLines(gw, match);
    return lines.length >= n ? lines : false;
  }, 5_000, 50);
}

function workersOf(lines: Line[]): number[] {
  return [...new Set(lines.map((l) => l.worker as number))].sort();
}

/**
 * One GET over a connection of its own (so node:cluster hands it to the next
 * worker); its status. Bounded: a request no worker answers fails the test
 * instead of hanging it.
 */
function fresh(url: string, path: string, apiKey: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { agent: false, headers: { 'x-api-key': apiKey }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${path} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function parallel(n: number, url: string, path: string, apiKey: string): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => fresh(url, path, apiKey)));
}

function workersGauge(metrics: Map<string, number>, state: string): number | undefined {
  return metrics.get(`throttlegate_workers{state="${state}"}`);
}

function exactYaml(workers: number, origin: string): string {
  return `server: { workers: ${workers} }
rate_limit: { requests_per_second: ${RATE}, burst: ${BURST}, unverified_key_envelope: false }
routes:
  - path: /api
    upstream: ${origin}
`;
}

/** One client on many kept-alive connections for FLOOD_S: admitted burst + rate x T, within 1, whatever worker answered. */
async function assertExactFlood(t: TestContext, workers: number): Promise<{ gw: Served; origin: Origin; total: number; refused: number }> {
  const origin = await startOrigin(t);
  const gw = await startCluster(t, exactYaml(workers, origin.url));
  const result = await flood([gw.url], '/api/x', { 'x-api-key': 'flooder' }, FLOOD_S, 8);
  const total = [...result.statuses.values()].reduce((a, b) => a + b, 0);
  const refused = result.statuses.get(429) ?? 0;
  const expected = BURST + RATE * result.seconds;
  t.diagnostic(`${workers} workers: ${result.allowed} allowed of ${total} in ${result.seconds.toFixed(2)} s (limit ${expected.toFixed(2)}), statuses ${JSON.stringify([...result.statuses])}`);
  assert.deepEqual([...result.statuses.keys()].sort(), [200, 429], 'only 200 and 429');
  assert.ok(Math.abs(result.allowed - expected) <= 1, `${result.allowed} allowed, limit ${expected.toFixed(2)} for ${result.seconds.toFixed(2)} s`);
  assert.equal(origin.count, result.allowed, 'the origin saw exactly the admitted requests');
  const lines = await linesFor(gw, total, (l) => l.path === '/api/x');
  assert.equal(lines.length, total, 'one access line per request');
  assert.deepEqual(workersOf(lines), Array.from({ length: workers }, (_, i) => i + 1), 'every worker served some of the flood');
  assert.ok(workersOf(lines.filter((l) => l.status === 200)).length > 1, 'admissions came from more than one worker');
  return { gw, origin, total, refused };
}

test('2 workers, memory store: one client flooding every worker is admitted burst + rate x T; /metrics sums the workers', BOUNDED, async (t) => {
  const { gw, origin, total, refused } = await assertExactFlood(t, 2);
  const text = (await send(gw.url, '/metrics')).text;
  const metrics = samples(text);
  const series = (status: number) => metrics.get(`throttlegate_requests_total{route="/api",method="GET",status="${status}"}`) ?? 0;
  assert.equal(series(200), origin.count, 'the 200 series is what the origin counted');
  assert.equal(series(429), refused, 'the 429 series is every refusal, cached ones included');
  assert.equal(series(200) + series(429), total);
  assert.equal(metrics.get('throttlegate_rate_limited_total{route="/api",plan="anonymous"}'), refused);
  assert.equal(workersGauge(metrics, 'running'), 2);
  assert.equal(workersGauge(metrics, 'starting'), 0);
  // One client with one limit: one bucket, held by the primary and counted once (not once per worker).
  assert.equal(metrics.get('throttlegate_active_clients'), 1);
  promtoolCheck(t, text);
});

test('4 workers, memory store: one client flooding every worker is admitted burst + rate x T', BOUNDED, async (t) => {
  const { gw } = await assertExactFlood(t, 4);
  assert.equal(workersGauge(await scrape(gw.url), 'running'), 4);
});

function promtoolCheck(t: TestContext, text: string): void {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
  } catch {
    if (process.env.CI) assert.fail('promtool is required in CI (.ci/run installs the prometheus package)');
    t.diagnostic('*** promtool not on PATH: SKIPPING the exposition check of the summed /metrics (apt-get install prometheus) ***');
    return;
  }
  const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.doesNotMatch(out, /error/i);
}

test('a concurrency limit of 3 holds across 2 workers: never a 4th request at the origin; slots are released', BOUNDED, async (t) => {
  const origin = await startOrigin(t, 'hold');
  const gw = await startCluster(t, `server: { workers: 2 }
routes:
  - path: /api
    upstream: ${origin.url}
    rate_limit: { algorithm: concurrency, limit: 3, unverified_key_envelope: false }
`);
  const answered: number[] = [];
  const first = Array.from({ length: 12 }, () => fresh(gw.url, '/api/slow', 'busy').then((s) => (answered.push(s), s)));
  // Held: every request is now either at the origin (admitted) or answered (refused), and nothing frees a slot.
  await waitFor('all 12 requests admitted or refused', () => answered.length + origin.inFlight === 12, 5_000);
  assert.equal(origin.maxInFlight, 3, 'at most 3 in flight at the origin, and 3 admitted');
  assert.deepEqual(answered, Array(9).fill(429));
  const refusedBy = workersOf(await linesFor(gw, 9, (l) => l.status === 429));
  assert.deepEqual(refusedBy, [1, 2], 'both workers refused some: the limit is one for both');
  origin.releaseAll();
  assert.deepEqual((await Promise.all(first)).filter((s) => s === 200).length, 3);
  // The three slots came back (released over IPC when each response ended): three more fit at once.
  const second = parallel(3, gw.url, '/api/slow', 'busy');
  await waitFor('3 more at the origin', () => origin.inFlight === 3, 5_000);
  origin.releaseAll();
  assert.deepEqual(await second, [200, 200, 200]);
  assert.equal(origin.maxInFlight, 3);
});

test('a block set through the admin API binds on every worker as soon as the API answers; DELETE lifts it', BOUNDED, async (t) => {
  const origin = await startOrigin(t);
  const adminPort = await freePort();
  const gw = await startCluster(t, `server: { workers: 2 }
admin: { host: 127.0.0.1, port: ${adminPort}, token: ${TOKEN} }
rate_limit: { requests_per_second: 100, burst: 100, unverified_key_envelope: false }
routes:
  - path: /api
    upstream: ${origin.url}
`);
  const admin = `http://127.0.0.1:${adminPort}`;
  const call = (method: string, body?: unknown) =>
    send(admin, '/v1/limits/mallory', {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const mallory = (l: Line) => l.client === label('mallory');
  assert.deepEqual(await parallel(4, gw.url, '/api/x', 'mallory'), [200, 200, 200, 200]);
  await linesFor(gw, 4, (l) => mallory(l) && l.status === 200);

  const put = await call('PUT', { block: true });
  assert.equal(put.status, 200, put.text);
  assert.deepEqual(await parallel(8, gw.url, '/api/x', 'mallory'), Array(8).fill(403), 'blocked on the first request after the PUT, on every connection');
  assert.deepEqual(workersOf(await linesFor(gw, 8, (l) => mallory(l) && l.status === 403)), [1, 2], '403s from every worker');
  assert.deepEqual(await parallel(4, gw.url, '/api/x', 'bystander'), [200, 200, 200, 200], 'only the blocked client');

  const del = await call('DELETE');
  assert.equal(del.status, 200, del.text);
  assert.deepEqual(await parallel(8, gw.url, '/api/x', 'mallory'), Array(8).fill(200), 'lifted on every connection as soon as DELETE answered');
  assert.deepEqual(workersOf((await linesFor(gw, 4 + 8, (l) => mallory(l) && l.status === 200)).slice(4)), [1, 2]);
});
