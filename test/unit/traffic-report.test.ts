import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MIX, generate, originStatus, type TrafficEvent } from '../../src/adaptive/traffic/index.js';
import { originAnswer } from '../../src/adaptive/traffic/origin-model.js';
import { loadDelayMs, passwordOf } from '../../src/adaptive/traffic/origin-server.js';
import { padded, toRequest } from '../../src/adaptive/traffic/request.js';
import { buildReport, formatReport, reportJson } from '../../src/adaptive/traffic/report.js';
import { checkTarget } from '../../src/adaptive/traffic/runner.js';
import { parseRunDuration } from '../../src/adaptive/traffic/command.js';

const events = generate(DEFAULT_MIX, 5, 30_000);

test('toRequest: the origin, seeing only the request, answers as originStatus does', () => {
  for (const e of events) {
    const r = toRequest(e);
    const password = r.body === undefined ? undefined : passwordOf(r.body);
    assert.equal(originAnswer(r.method, r.path.split('?')[0] as string, password), originStatus(e), `${e.client} ${e.method} ${e.path}`);
  }
  const logins = events.filter((e) => e.method === 'POST' && e.path === '/api/login');
  assert.ok(logins.some((e) => originStatus(e) === 200) && logins.some((e) => originStatus(e) === 401), 'both answers occur');
});

test('toRequest: headers as the event says, absent ones absent, the address in X-Forwarded-For, bodies of the event size', () => {
  const stuffer = events.find((e) => e.cls === 'stuffer' && e.userAgent === undefined && e.accept === undefined);
  assert.ok(stuffer);
  const r = toRequest(stuffer);
  assert.deepEqual(Object.keys(r.headers).sort(), ['content-type', 'x-api-key', 'x-forwarded-for']);
  assert.equal(r.headers['x-forwarded-for'], stuffer.ip);
  assert.equal(r.body?.length, stuffer.bodyBytes);
  const browser = events.find((e) => e.cls === 'browser' && e.query !== '') as TrafficEvent;
  const b = toRequest(browser);
  assert.equal(b.path, browser.path + browser.query);
  assert.equal(b.body, undefined);
  assert.deepEqual(Object.keys(b.headers).sort(), ['accept', 'accept-language', 'user-agent', 'x-forwarded-for']);
  for (const e of events.filter((x) => x.method === 'POST')) assert.ok(Buffer.byteLength(toRequest(e).body ?? '') >= e.bodyBytes);
  assert.equal(padded({}, 3), '{"pad":""}', 'never shorter than the fields need');
});

const event = (client: string, label: 'good' | 'bad', at: number): TrafficEvent =>
  ({ at, client, cls: client.split('-')[0], label, ip: '10.0.0.1', apiKey: undefined, method: 'GET', path: '/', query: '', userAgent: undefined, accept: undefined, acceptLanguage: undefined, bodyBytes: 0 }) as TrafficEvent;

test('buildReport: shares, first throttled in generated seconds, per-client precision and recall', () => {
  const evs = [
    event('browser-1', 'good', 0),
    event('browser-1', 'good', 1000),
    event('browser-2', 'good', 1500),
    event('scanner-1', 'bad', 2000),
    event('scanner-1', 'bad', 2500),
    event('scanner-2', 'bad', 3000),
    event('stuffer-1', 'bad', 4000),
  ];
  const report = buildReport(evs, [200, 429, 403, 404, 403, 200, 0]);
  const browser = report.classes.find((c) => c.class === 'browser')!;
  assert.deepEqual(browser, { class: 'browser', label: 'good', clients: 2, requests: 3, refusedShare: 1 / 3, blockedShare: 1 / 3, errors: 0, firstThrottledS: 1 });
  assert.equal(report.classes.find((c) => c.class === 'scanner')!.firstThrottledS, 2.5);
  assert.equal(report.classes.find((c) => c.class === 'stuffer')!.errors, 1);
  assert.equal(report.classes.find((c) => c.class === 'mobile')!.firstThrottledS, null);
  assert.deepEqual(report.clients, { total: 5, actedOn: 3, truePositives: 1, falsePositives: 2, falseNegatives: 2, precision: 1 / 3, recall: 1 / 3 });
  assert.deepEqual(report.legitimate, { requestsRefusedShare: 2 / 3, clientsBlockedShare: 1 / 2 });
  assert.equal(report.errors, 1);
  assert.match(formatReport(report), /precision 0\.333, recall 0\.333/);
  assert.equal((reportJson(report).clients as Record<string, unknown>).false_positives, 2);
  assert.throws(() => buildReport(evs, [200]), RangeError);
  assert.equal(buildReport([], []).clients.precision, null);
});

test('origin under load: +1 ms a request beyond slowAfter, capped', () => {
  assert.equal(loadDelayMs(50, 50, 200), 0);
  assert.equal(loadDelayMs(51, 50, 200), 1);
  assert.equal(loadDelayMs(1000, 50, 200), 200);
  assert.equal(passwordOf('not json'), undefined);
  assert.equal(passwordOf('{"password":7}'), undefined);
});

test('targets: loopback only unless allowed; durations', () => {
  for (const ok of ['http://127.0.0.1:8080', 'http://localhost:1', 'http://[::1]:2/base']) assert.ok(checkTarget(ok, false));
  for (const bad of ['http://10.0.0.1', 'http://example.com', 'ftp://127.0.0.1', 'http://127.0.0.1/?a=1', 'nope']) assert.throws(() => checkTarget(bad, false), RangeError, bad);
  assert.ok(checkTarget('http://example.com', true));
  assert.equal(parseRunDuration('60s'), 60_000);
  assert.equal(parseRunDuration('1.5'), 1500);
  assert.equal(parseRunDuration('500ms'), 500);
  assert.throws(() => parseRunDuration('2h'), RangeError);
  assert.throws(() => parseRunDuration('soon'), TypeError);
});
