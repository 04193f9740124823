import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { hashApiKey } from '../../src/limit/api-keys.js';
import { hashKey } from '../../src/limit/keys.js';
import { simulate, simulateFile } from '../../src/admin/simulate.js';
import { parseLine, type LogRequest } from '../../src/admin/simulate-log.js';

const T = 1_700_002_800_000;
const config = parseConfig(`rate_limit: { requests_per_second: 0.001, burst: 2 }
plans:
  pro: { limits: [ { requests_per_second: 0.001, burst: 3 } ] }
api_keys:
  - { id: acme, hash: "${hashApiKey('acme-key')}", plan: pro }
routes:
  - { path: /api, upstream: http://127.0.0.1:8000 }
`, 'sim.yaml', {});

// Byte for byte what access-log.ts writeLine renders (pino's level/time, the logger's `service` binding, then the fields).
const access = (at: number, client: string, extra = '') =>
  `{"level":30,"time":${T + at},"service":"throttlegate","reqId":"r${at}","method":"GET","path":"/api/x","route":"/api","upstream":"http://127.0.0.1:8000",` +
  `"client":"${client}"${extra},"decision":"allowed","status":200,"duration_ms":0.842,"msg":"request"}`;

test("the gateway's own access lines: the client label is the identity, an id: label takes its plan", () => {
  const r = simulate(config, [
    `{"level":30,"time":${T},"service":"throttlegate","url":"http://127.0.0.1:8080","config":"configs/config.yaml","routes":[],"msg":"throttlegate listening on http://127.0.0.1:8080"}`,
    ...[0, 1, 2].map((i) => access(i, 'ip:10.0.0.7')),
    ...[3, 4, 5, 6].map((i) => access(i, 'id:acme', ',"key_id":"acme","plan":"pro"')),
    ...[7, 8, 9].map((i) => access(i, hashKey('some-key'))),
    // Two hosts of one /64 are one client.
    access(10, 'ip:2001:db8:1::/64'),
    access(11, 'ip:2001:db8:1::/64'),
    access(12, 'ip:2001:db8:1::/64'),
    `{"level":40,"time":${T + 13},"service":"throttlegate","msg":"config reloaded"}`,
  ]);
  assert.equal(r.lines, 15);
  assert.equal(r.skipped, 2);
  assert.equal(r.requests, 13);
  assert.equal(r.malformed, 0);
  const by = (group: string) => r.routes.find((x) => x.group === group);
  assert.deepEqual([by('default')?.allowed, by('default')?.refused], [6, 3]);
  assert.deepEqual([by('default+plan:pro')?.allowed, by('default+plan:pro')?.refused], [3, 1]);
  assert.deepEqual(r.top_refused, [
    { client: 'id:acme', refused: 1 },
    { client: 'ip:10.0.0.7', refused: 1 },
    { client: 'ip:2001:db8:1::/64', refused: 1 },
    { client: hashKey('some-key'), refused: 1 },
  ]);
});

test('malformed lines are counted and the first five named by number; blank lines are not lines', () => {
  const good = JSON.stringify({ time: T, method: 'GET', path: '/api/x', ip: '10.0.0.1' });
  const r = simulate(config, [
    good,
    'not json',
    '',
    '[1, 2]',
    JSON.stringify({ method: 'GET', path: '/api/x' }), // no time
    JSON.stringify({ time: 'yesterday', method: 'GET', path: '/api/x' }),
    JSON.stringify({ time: T, method: 'GET', path: '/api/x', headers: 'x-api-key: k' }),
    JSON.stringify({ time: T, method: 'GET', path: 7 }),
    '{"time":',
    '   ',
    '\u0000\u00ff\ufffd',
    good,
  ]);
  assert.equal(r.lines, 10);
  assert.equal(r.requests, 2);
  assert.equal(r.malformed, 8);
  assert.deepEqual(r.malformed_lines, [2, 4, 5, 6, 7]);
  assert.equal(r.routes[0]?.allowed, 2);
});

test('a file: lines split across read chunks, a last line without a newline, CRLF', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'tg-sim-')), 'access.jsonl');
  // Padding makes lines of ~3 KB, so many straddle the 1 MiB chunks; the é makes some straddle mid-character.
  const pad = 'é'.repeat(1500);
  const n = 1000;
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ time: T + i, method: 'GET', path: '/api/x', ip: `10.0.${i % 4}.1`, note: pad }));
  writeFileSync(file, lines.join('\r\n'));
  const r = simulateFile(config, file);
  assert.equal(r.lines, n);
  assert.equal(r.malformed, 0);
  assert.deepEqual([r.routes[0]?.allowed, r.routes[0]?.refused], [8, n - 8]);
  assert.throws(() => simulateFile(config, join(file, '..', 'missing.jsonl')), { code: 'ENOENT' });
});

test('an access line read by the fast pattern reads as JSON.parse reads it', () => {
  const variants = [
    access(0, 'ip:10.0.0.7'),
    access(1, 'id:acme', ',"key_id":"acme","plan":"pro"'),
    access(2, 'ip:2001:db8:1::/64').replace(',"decision":"allowed"', ',"decision":"delayed","delayed_ms":250'),
    access(3, 'ip:10.0.0.7').replace(',"upstream":"http://127.0.0.1:8000"', '').replace('"duration_ms":0.842', '"duration_ms":1e-3'),
  ];
  for (const line of variants) {
    // A trailing space is still JSON but no longer the gateway's exact shape: it takes the JSON.parse path.
    assert.deepEqual(parseLine(line), parseLine(`${line} `), line);
    assert.notEqual(parseLine(line), 'malformed');
  }
  // An escaped path is left to JSON.parse, which decodes it.
  const escaped = access(4, 'ip:10.0.0.7').replace('"path":"/api/x"', '"path":"/api/\\u0078"');
  assert.equal((parseLine(escaped) as LogRequest).target, '/api/x');
});

test('a client label not in the gateway forms is taken for a raw key and reported as its digest', () => {
  const r = simulate(config, [0, 1, 2].map((i) => JSON.stringify({ time: T + i, method: 'GET', path: '/api/x', client: 'sk_live_secret' })));
  assert.deepEqual(r.top_refused, [{ client: hashKey('sk_live_secret'), refused: 1 }]);
  assert.ok(!JSON.stringify(r).includes('sk_live_secret'));
});
