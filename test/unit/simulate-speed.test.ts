import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { hashApiKey } from '../../src/limit/api-keys.js';
import { simulateFile } from '../../src/admin/simulate.js';
import { OUTCOMES } from '../../src/admin/simulate-report.js';

const T = 1_700_002_800_000;
const LINES = 300_000;
// The target is 200k lines/s; the floor is a quarter of it so a noisy 2-core CI box does not fail, and the real figure is printed.
const FLOOR = 50_000;

test(`simulate replays at least ${FLOOR} lines/s (target 200k) from a file`, (t) => {
  const config = parseConfig(`rate_limit:
  limits:
    - { requests_per_second: 5, burst: 10 }
    - { algorithm: fixed_window, limit: 200, window: 1m }
  key: [header:x-api-key, ip]
plans:
  pro: { limits: [ { requests_per_second: 50, burst: 100 } ] }
api_keys:
  - { id: acme, hash: "${hashApiKey('acme-key')}", plan: pro }
routes:
  - { path: /api, upstream: http://127.0.0.1:8000 }
  - { path: /api/v2, upstream: http://127.0.0.1:8001, rate_limit: { algorithm: sliding_window, limit: 100, window: 10s } }
  - { path: /auth, upstream: http://127.0.0.1:8002 }
`, 'speed.yaml', {});
  // A realistic mix: mostly the gateway's own lines (2000 addresses, one keyed client), some input lines with headers.
  const paths = ['/api/users/42', '/api/v2/orders', '/auth/login', '/api/items?page=2'];
  const lines: string[] = [];
  for (let i = 0; i < LINES; i++) {
    const time = T + i * 2;
    const path = paths[i % paths.length] as string;
    if (i % 5 === 4) lines.push(JSON.stringify({ time, method: 'GET', path, ip: `10.1.${i % 7}.${i % 251}`, headers: { 'x-api-key': i % 2 ? 'acme-key' : 'nope' } }));
    else {
      const client = i % 9 === 0 ? 'id:acme","key_id":"acme","plan":"pro' : `ip:10.0.${i % 8}.${i % 250}`;
      lines.push(`{"level":30,"time":${time},"service":"throttlegate","reqId":"r${i}","method":"GET","path":"${path.split('?')[0]}","route":"/api","upstream":"http://127.0.0.1:8000","client":"${client}","decision":"allowed","status":200,"duration_ms":1.5,"msg":"request"}`);
    }
  }
  const file = join(mkdtempSync(join(tmpdir(), 'tg-sim-')), 'access.jsonl');
  writeFileSync(file, lines.join('\n') + '\n');

  simulateFile(config, file); // warm-up: JIT, not a measure
  const started = performance.now();
  const cpu = process.cpuUsage();
  const r = simulateFile(config, file);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const rate = Math.round(LINES / seconds);
  // CPU time too: on a box busy with other work the wall-clock figure says more about the neighbours.
  const cpuRate = Math.round(LINES / ((used.user + used.system) / 1e6));
  t.diagnostic(`simulate: ${LINES} lines in ${(seconds * 1000).toFixed(0)} ms = ${rate} lines/s wall clock, ${cpuRate} lines/s of CPU time`);

  assert.equal(r.requests, LINES);
  assert.equal(r.malformed, 0);
  const total = r.routes.reduce((n, row) => n + OUTCOMES.reduce((m, o) => m + row[o], 0), 0);
  assert.equal(total, LINES, 'every request counted exactly once');
  assert.ok(r.routes.some((row) => row.refused > 0) && r.routes.some((row) => row.allowed > 0), 'the limits both pass and refuse');
  assert.ok(rate >= FLOOR, `${rate} lines/s is under the floor of ${FLOOR}`);
});
