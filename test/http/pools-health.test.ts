import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/index.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { send, type RawResponse } from '../helpers/http.js';
import { metric, startControlledUpstream, traffic, waitFor, type ControlledUpstream } from '../helpers/pool.js';

function poolYaml(targets: ControlledUpstream[], extra: string): string {
  const list = targets.map((u) => `        - { url: ${u.url} }`).join('\n');
  return `routes:\n  - path: /api\n    upstream:\n      targets:\n${list}\n${extra.replace(/^/gm, '      ')}\n`;
}

const healthy = (gw: TestGateway, u: ControlledUpstream) => metric(gw.url, 'throttlegate_upstream_healthy', { route: '/api', target: u.url });
const circuit = (gw: TestGateway, u: ControlledUpstream) => metric(gw.url, 'throttlegate_circuit_state', { route: '/api', target: u.url });
const changes = (gw: TestGateway, u: ControlledUpstream) =>
  gw.logs.filter((l) => l.target === u.url && String(l.msg).startsWith('upstream target ')).map((l) => {
    assert.equal(l.level, 40, 'a state change is a warn line');
    assert.equal(l.route, '/api');
    assert.equal(l.msg, `upstream target ${String(l.change)}`);
    return l.change;
  });

/** Sends `n` requests one after another; returns the name of the upstream that answered each (or the status). */
async function run(gw: TestGateway, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await send(gw.url, `/api/r${i}`);
    out.push(r.status === 200 ? r.text : String(r.status));
  }
  return out;
}

test('active health check: a failing target is taken out after unhealthy_after checks and restored after healthy_after', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  const gw = await startGateway(poolYaml([a, b], 'health_check: { path: /healthz, interval: 50ms, timeout: 200ms, healthy_after: 2, unhealthy_after: 2 }'));
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));

  // Targets start healthy, and the first check runs at once.
  await waitFor(() => a.seen.some((s) => s.url === '/healthz') && b.seen.some((s) => s.url === '/healthz'), 1000, 'the first checks');
  assert.equal(await healthy(gw, b), 1);
  assert.deepEqual((await run(gw, 4)).sort(), ['A', 'A', 'B', 'B']);

  b.healthy = false;
  await waitFor(async () => (await healthy(gw, b)) === 0, 2000, 'B marked unhealthy');
  const failingChecks = b.seen.filter((s) => s.url === '/healthz').length;
  const before = traffic(b);
  assert.deepEqual(await run(gw, 20), Array(20).fill('A'), 'B takes no traffic while failing');
  assert.equal(traffic(b), before);
  assert.equal(await healthy(gw, a), 1);
  assert.deepEqual(changes(gw, b), ['health check failing'], 'exactly one line for the change');
  assert.deepEqual(changes(gw, a), []);

  b.healthy = true;
  await waitFor(async () => (await healthy(gw, b)) === 1, 2000, 'B restored');
  assert.ok(b.seen.filter((s) => s.url === '/healthz').length >= failingChecks + 2, 'restored only after healthy_after passing checks');
  const back = await run(gw, 20);
  assert.equal(back.filter((n) => n === 'B').length, 10, `traffic resumes, round robin as before: ${back.join('')}`);
  assert.equal(changes(gw, b).filter((c) => c === 'health check passing').length, 1);
});

test('passive ejection: eject_after consecutive 5xx take a target out for eject_for, then it returns', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  b.status = 500;
  const gw = await startGateway(poolYaml([a, b], 'passive: { eject_after: 3, eject_for: 300ms }'));
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));

  // Round robin alternates: B's three 500s are passed on to the client, not retried.
  assert.deepEqual(await run(gw, 6), ['A', '500', 'A', '500', 'A', '500']);
  const ejectedAt = Date.now();
  assert.equal(b.seen.length, 3);
  assert.deepEqual(await run(gw, 10), Array(10).fill('A'), 'B ejected');
  assert.equal(b.seen.length, 3);
  assert.equal(await healthy(gw, b), 0);
  assert.deepEqual(changes(gw, b), ['ejected after consecutive failures']);

  b.status = 200;
  let seenAfter = 0;
  await waitFor(async () => {
    await run(gw, 1);
    seenAfter = Date.now() - ejectedAt;
    return b.seen.length > 3;
  }, 2000, 'B back in rotation');
  assert.ok(seenAfter >= 250, `B returned after ${seenAfter} ms, eject_for is 300ms`);
  assert.equal(await healthy(gw, b), 1);
  assert.deepEqual(changes(gw, b), ['ejected after consecutive failures', 'back in rotation']);
  assert.ok((await run(gw, 10)).filter((n) => n === 'B').length >= 4, 'B takes its share again');
});

test('circuit breaker: opens on the error rate, fails fast, half-opens after open_for, closes on a good probe', async (t) => {
  const up = await startControlledUpstream('U');
  up.status = 500;
  const gw = await startGateway(poolYaml([up], 'circuit_breaker: { error_rate: 0.5, min_requests: 4, window: 10s, open_for: 300ms }'));
  t.after(() => Promise.all([gw.close(), up.close()]));

  assert.deepEqual(await run(gw, 4), ['500', '500', '500', '500'], 'failures are passed on until min_requests is reached');
  const openedAt = Date.now();
  assert.equal(await circuit(gw, up), 2, 'open');
  assert.equal(await healthy(gw, up), 0);
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await send(gw.url, '/api/while-open');
    assert.equal(r.status, 503);
    assert.deepEqual(r.json(), { error: 'upstream_unavailable' });
    assert.ok(performance.now() - t0 < 100, 'failed fast');
  }
  assert.equal(up.seen.length, 4, 'the open circuit kept requests from the upstream');

  // The upstream is healthy again but holds requests, so the probe stays in flight.
  up.status = 200;
  up.hold = true;
  let probe: Promise<RawResponse> | undefined;
  let probeAfter = 0;
  await waitFor(async () => {
    let settled = false;
    const sent = send(gw.url, '/api/probe').then((r) => ((settled = true), r));
    await waitFor(() => settled || up.held === 1, 2000, 'a 503 or a probe reaching the upstream');
    if (up.held === 1) {
      probe = sent;
      probeAfter = Date.now() - openedAt;
      return true;
    }
    assert.equal((await sent).status, 503, 'still open');
    return false;
  }, 2000, 'the half-open probe');
  assert.ok(probeAfter >= 250, `probe let through after ${probeAfter} ms, open_for is 300ms`);
  assert.equal(await circuit(gw, up), 1, 'half open while the probe is in flight');
  for (let i = 0; i < 3; i++) assert.equal((await send(gw.url, '/api/during-probe')).status, 503, 'one probe at a time');
  assert.equal(up.seen.length, 5, 'exactly one probe reached the upstream');
  up.hold = false;
  up.release();
  assert.equal((await (probe as Promise<RawResponse>)).status, 200);
  assert.equal(await circuit(gw, up), 0, 'closed');
  assert.equal(await healthy(gw, up), 1);
  assert.deepEqual(await run(gw, 5), Array(5).fill('U'), 'traffic flows');
  for (const change of ['circuit open', 'circuit half_open', 'circuit closed']) assert.equal(changes(gw, up).filter((c) => c === change).length, 1, change);

  // Open it again (the window holds the 5 successes since closing: 5 failures
  // make 50%); this time the probe fails and the circuit reopens at once.
  up.status = 500;
  assert.deepEqual(await run(gw, 4), Array(4).fill('500'));
  assert.equal(await circuit(gw, up), 0, '4 of 9 failed: below error_rate');
  assert.deepEqual(await run(gw, 1), ['500']);
  assert.equal(await circuit(gw, up), 2);
  const seen = up.seen.length;
  await waitFor(async () => (await send(gw.url, '/api/probe')).status === 500, 2000, 'the failing probe');
  assert.equal(up.seen.length, seen + 1);
  assert.equal(await circuit(gw, up), 2, 'a failed probe reopens');
  assert.equal((await send(gw.url, '/api/after')).status, 503);
  assert.equal(up.seen.length, seen + 1);
});

test('no available target: 503 upstream_unavailable at once, the upstream never contacted', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  a.healthy = b.healthy = false;
  const gw = await startGateway(poolYaml([a, b], 'health_check: { path: /healthz, interval: 50ms, timeout: 200ms, unhealthy_after: 1 }'));
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));

  await waitFor(async () => (await healthy(gw, a)) + (await healthy(gw, b)) === 0, 2000, 'both unhealthy');
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await send(gw.url, `/api/x${i}`);
    const ms = performance.now() - t0;
    assert.equal(r.status, 503);
    assert.deepEqual(r.json(), { error: 'upstream_unavailable' });
    assert.ok(ms < 100, `answered in ${ms.toFixed(1)} ms`);
  }
  assert.equal(traffic(a) + traffic(b), 0, 'only health checks reached the upstreams');
  const lines = gw.accessLines().filter((l) => l.route === '/api');
  assert.equal(lines.length, 5);
  assert.ok(lines.every((l) => l.status === 503));
});

// The exact log sequence of each kind of change: one warn line per change, as
// documented. Kept apart from the behaviour tests above so that a duplicate
// line fails here, under its own name.
test('one warn line per target state change: a health check restore is not also logged as "back in rotation"', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  b.healthy = false;
  const gw = await startGateway(poolYaml([a, b], 'health_check: { path: /healthz, interval: 50ms, timeout: 200ms, healthy_after: 1, unhealthy_after: 1 }'));
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));
  await waitFor(async () => (await healthy(gw, b)) === 0, 2000, 'B unhealthy');
  b.healthy = true;
  await waitFor(async () => (await healthy(gw, b)) === 1, 2000, 'B restored');
  assert.deepEqual(changes(gw, b), ['health check failing', 'health check passing']);
});

test('one warn line per target state change: open -> half_open -> closed logs three lines, not a "back in rotation" as well', async (t) => {
  const up = await startControlledUpstream('U');
  up.status = 500;
  const gw = await startGateway(poolYaml([up], 'circuit_breaker: { error_rate: 0.5, min_requests: 2, window: 10s, open_for: 100ms }'));
  t.after(() => Promise.all([gw.close(), up.close()]));
  await run(gw, 2);
  up.status = 200;
  await waitFor(async () => (await send(gw.url, '/api/probe')).status === 200, 2000, 'the probe');
  assert.deepEqual(changes(gw, up), ['circuit open', 'circuit half_open', 'circuit closed']);
});

// Ejection and an open circuit end with time, not with an event. A scrape
// between the end and the next request must already show the target back.
test('gauges follow time: the end of eject_for and of open_for shows at /metrics without waiting for traffic', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  b.status = 500;
  const gw = await startGateway(poolYaml([a, b], 'passive: { eject_after: 1, eject_for: 100ms }\ncircuit_breaker: { error_rate: 0.5, min_requests: 1, window: 10s, open_for: 100ms }'));
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));
  await run(gw, 2);
  assert.equal(await healthy(gw, b), 0);
  assert.equal(await circuit(gw, b), 2);
  const t0 = Date.now();
  // No requests from here on: only scrapes.
  await waitFor(async () => (await circuit(gw, b)) === 1, 1000, 'circuit_state 1 (half open) once open_for is over');
  await waitFor(async () => (await healthy(gw, b)) === 1, 1000, 'upstream_healthy 1 once eject_for is over');
  assert.ok(Date.now() - t0 >= 50, 'not before the periods ended');
  assert.equal(traffic(b), 1);
});

test('a reload keeps what health checks found: a target known to be down stays out until its checks pass', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  const check = 'health_check: { path: /healthz, interval: 50ms, timeout: 200ms, healthy_after: 2, unhealthy_after: 2 }';
  const gw = await startGateway(poolYaml([a, b], check));
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));
  b.healthy = false;
  await waitFor(async () => (await healthy(gw, b)) === 0, 2000, 'B marked unhealthy');

  // The same pool with another route added: B's health carries over, so it gets nothing at once.
  const extra = `  - path: /other\n    upstream: ${a.url}\n`;
  await gw.gateway.reload(parseConfig(`${poolYaml([a, b], check)}${extra}`, 'test.yaml', {}));
  const before = traffic(b);
  assert.deepEqual(await run(gw, 10), Array(10).fill('A'), 'B takes no traffic right after the reload');
  assert.equal(traffic(b), before);
  assert.equal(await healthy(gw, b), 0);

  // Restored by the new pool's own checks, as ever.
  b.healthy = true;
  await waitFor(async () => (await healthy(gw, b)) === 1, 2000, 'B restored after the reload');
  assert.equal((await run(gw, 10)).filter((n) => n === 'B').length, 5);

  // A pool that checks differently starts afresh: its targets start healthy.
  b.healthy = false;
  await waitFor(async () => (await healthy(gw, b)) === 0, 2000, 'B unhealthy again');
  const other = check.replace('interval: 50ms', 'interval: 10s').replace('unhealthy_after: 2', 'unhealthy_after: 5');
  await gw.gateway.reload(parseConfig(poolYaml([a, b], other), 'test.yaml', {}));
  assert.equal(await healthy(gw, b), 1, 'a new health_check starts from healthy');
});
