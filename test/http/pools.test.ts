import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { send } from '../helpers/http.js';
import { deadPort, metric, startControlledUpstream, waitFor } from '../helpers/pool.js';

/** A route whose upstream is a pool; `extra` is YAML under `upstream:` (balance, retries, ...). */
function poolRoute(path: string, targets: { url: string; weight?: number }[], extra = '', routeExtra = ''): string {
  const list = targets.map((t) => `        - { url: ${t.url}${t.weight ? `, weight: ${t.weight}` : ''} }`).join('\n');
  const more = extra ? `\n${extra.replace(/^/gm, '      ')}` : '';
  const route = routeExtra ? `\n${routeExtra.replace(/^/gm, '    ')}` : '';
  return `  - path: ${path}${route}\n    upstream:\n      targets:\n${list}${more}\n`;
}

/** Which upstream answered (the controlled upstreams name themselves). */
async function who(base: string, path = '/api/x'): Promise<string> {
  const r = await send(base, path);
  assert.equal(r.status, 200, r.text);
  return r.text;
}

test('weighted round robin: 3:1 over 1000 requests splits exactly, spread out, and the metrics match what each target saw', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  // A written with a trailing slash: the target label is the URL exactly as configured.
  const aUrl = `${a.url}/`;
  const gw = await startGateway(`routes:\n${poolRoute('/api', [{ url: aUrl, weight: 3 }, { url: b.url }], 'balance: round_robin')}`);
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));

  const order: string[] = [];
  // fetch keeps one connection alive: 1000 requests without 1000 handshakes.
  for (let i = 0; i < 1000; i++) {
    const r = await fetch(`${gw.url}/api/item?i=${i}`);
    assert.equal(r.status, 200);
    order.push(await r.text());
  }
  assert.equal(order.slice(0, 8).join(''), 'AABAAABA', 'smooth weighted: the heavy target\'s picks are spread out');
  assert.equal(order.filter((n) => n === 'A').length, 750);
  assert.equal(order.filter((n) => n === 'B').length, 250);
  assert.equal(a.seen.length, 750);
  assert.equal(b.seen.length, 250);
  const labels = (target: string) => ({ route: '/api', target, status: '200' });
  assert.equal(await metric(gw.url, 'throttlegate_upstream_requests_total', labels(aUrl)), a.seen.length);
  assert.equal(await metric(gw.url, 'throttlegate_upstream_requests_total', labels(b.url)), b.seen.length);
  const lines = gw.accessLines().filter((l) => l.route === '/api');
  assert.equal(lines.length, 1000);
  assert.equal(lines.filter((l) => l.upstream === aUrl).length, 750, 'access log names the chosen target as configured');
  assert.equal(lines.filter((l) => l.upstream === b.url).length, 250);
});

test('least_connections: while A holds requests in flight, new requests go to B; idle targets take turns', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  const gw = await startGateway(`routes:\n${poolRoute('/api', [{ url: a.url }, { url: b.url }], 'balance: least_connections')}`);
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));

  // Both hold: four requests, each sent once the previous one arrived, go two to each.
  a.hold = b.hold = true;
  const pending: Promise<unknown>[] = [];
  for (let i = 1; i <= 4; i++) {
    pending.push(send(gw.url, `/api/held${i}`));
    await waitFor(() => a.held + b.held === i, 2000, `request ${i} to reach an upstream`);
  }
  assert.equal(a.held, 2);
  assert.equal(b.held, 2);
  // B finishes its two and goes fast; A still has two in flight.
  b.hold = false;
  b.release();
  await waitFor(() => b.held === 0, 2000, 'B to answer its held requests');
  for (let i = 0; i < 10; i++) assert.equal(await who(gw.url), 'B', `request ${i} while A has 2 in flight`);
  assert.equal(a.held, 2, 'A got none of them');
  assert.equal(a.seen.length, 2);
  assert.equal(b.seen.length, 12);

  a.hold = false;
  a.release();
  const done = await Promise.all(pending);
  assert.ok(done.every((r) => (r as { status: number }).status === 200));
  // Both idle again: ties are broken by round robin, so A takes requests again.
  const after: string[] = [];
  for (let i = 0; i < 10; i++) after.push(await who(gw.url));
  assert.ok(after.includes('A') && after.includes('B'), after.join(''));
});

test('random_two: both targets get traffic, and a loaded target loses to an idle one', async (t) => {
  const [a, b] = await Promise.all([startControlledUpstream('A'), startControlledUpstream('B')]);
  const gw = await startGateway(`routes:\n${poolRoute('/api', [{ url: a.url }, { url: b.url }], 'balance: random_two')}`);
  t.after(() => Promise.all([gw.close(), a.close(), b.close()]));

  const idle: string[] = [];
  for (let i = 0; i < 200; i++) idle.push(await who(gw.url));
  const onA = idle.filter((n) => n === 'A').length;
  // Equal load, a fair coin each time: below 50 of 200 has odds of about 1e-13.
  assert.ok(onA >= 50 && onA <= 150, `A got ${onA} of 200`);

  // One request held on whichever target it lands on; with two targets both are
  // always drawn, so every request after it must go to the other one.
  a.hold = b.hold = true;
  const held = send(gw.url, '/api/held');
  await waitFor(() => a.held + b.held === 1, 2000, 'the held request to arrive');
  const [loaded, other] = a.held === 1 ? [a, b] : [b, a];
  other.hold = false;
  const name = loaded === a ? 'B' : 'A';
  for (let i = 0; i < 20; i++) assert.equal(await who(gw.url), name, `request ${i} while the other target is loaded`);
  loaded.hold = false;
  loaded.release();
  assert.equal((await held).status, 200);
});

test('retries: a refused connection is retried on another target for GET, never for POST; retries: 0 passes the 502 on', async (t) => {
  const a = await startControlledUpstream('A');
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const targets = [{ url: a.url }, { url: dead }];
  const gw = await startGateway(`routes:\n${poolRoute('/retry', targets, 'retries: 1')}${poolRoute('/once', targets, 'retries: 0')}`);
  t.after(() => Promise.all([gw.close(), a.close()]));

  for (let i = 0; i < 10; i++) {
    const r = await send(gw.url, `/retry/g${i}`);
    assert.equal(r.status, 200, `GET ${i}: ${r.text}`);
    assert.equal(r.text, 'A');
  }
  assert.equal(a.seen.length, 10);
  const count = (route: string, target: string, status: string) =>
    metric(gw.url, 'throttlegate_upstream_requests_total', { route, target, status });
  // Round robin sent every other first attempt to the dead target: 5 failed, each retried on A.
  assert.equal(await count('/retry', dead, '502'), 5, 'failed attempts counted as 502');
  assert.equal(await count('/retry', a.url, '200'), 10);
  const getLines = gw.accessLines().filter((l) => String(l.path).startsWith('/retry/g'));
  assert.equal(getLines.length, 10);
  assert.ok(getLines.every((l) => l.upstream === a.url), 'a retried request is logged with the target that served it');

  // Ten picks brought round robin back to its start: the next two go to A, then to the dead target.
  const first = await send(gw.url, '/retry/p', { method: 'POST', body: 'post-1', headers: { 'content-type': 'text/plain' } });
  const second = await send(gw.url, '/retry/p', { method: 'POST', body: 'post-2', headers: { 'content-type': 'text/plain' } });
  const statuses = [first.status, second.status].sort();
  assert.deepEqual(statuses, [200, 502], 'one POST reached A, the other hit the dead target and was not retried');
  const refused = first.status === 502 ? first : second;
  assert.deepEqual(refused.json(), { error: 'bad_gateway' });
  const refusedBody = first.status === 502 ? 'post-1' : 'post-2';
  assert.ok(!a.seen.some((s) => s.body.toString() === refusedBody), 'A never saw the POST that failed');
  assert.equal(await count('/retry', dead, '502'), 6);

  const once = [await send(gw.url, '/once/x'), await send(gw.url, '/once/x')];
  assert.deepEqual(once.map((r) => r.status).sort(), [200, 502], 'retries: 0: the GET to the dead target gets 502');
  assert.deepEqual(once.find((r) => r.status === 502)!.json(), { error: 'bad_gateway' });
});

test('a hanging target does not slow the others: B answers at once while A\'s requests wait for their 504', async (t) => {
  const hang = await startUpstream(() => {});
  const b = await startControlledUpstream('B');
  const gw = await startGateway(`routes:\n${poolRoute('/api', [{ url: hang.url }, { url: b.url }], '', 'timeout_ms: 2000')}`);
  t.after(() => Promise.all([gw.close(), hang.close(), b.close()]));

  const hung: Promise<{ status: number; text: string; ms: number }>[] = [];
  const started = Date.now();
  for (let i = 0; i < 3; i++) {
    // Round robin: A, then B, alternately. Each A request is in A's hands before B's is sent.
    const sentAt = Date.now();
    hung.push(send(gw.url, `/api/hang${i}`).then((r) => ({ status: r.status, text: r.text, ms: Date.now() - sentAt })));
    await waitFor(() => hang.seen.length === i + 1, 2000, `hanging request ${i} to reach A`);
    const t0 = performance.now();
    assert.equal(await who(gw.url, `/api/fast${i}`), 'B');
    const ms = performance.now() - t0;
    assert.ok(ms < 200, `B answered in ${ms.toFixed(1)} ms with ${i + 1} requests hanging on A`);
  }
  const results = await Promise.all(hung);
  for (const r of results) {
    assert.equal(r.status, 504, r.text);
    assert.deepEqual(JSON.parse(r.text), { error: 'gateway_timeout' });
    assert.ok(r.ms >= 1900 && r.ms < 3000, `ended at the route timeout, after ${r.ms} ms`);
  }
  assert.ok(Date.now() - started < 3500);
  assert.equal(await metric(gw.url, 'throttlegate_upstream_requests_total', { route: '/api', target: hang.url, status: '504' }), 3);
});
