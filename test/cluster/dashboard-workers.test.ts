import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { serve, writeConfig } from '../helpers/cli.js';
import { send } from '../helpers/http.js';
import { samples } from '../helpers/metrics.js';
import { freePort } from '../helpers/redis.js';
import { startUpstream } from '../helpers/upstream.js';
import { accessLines, fresh, label, stop, workersOf } from '../helpers/workers.js';

const TOKEN = 'workers-dashboard-token-0123456789';

/** Reads an SSE stream until `until` holds for a message's data, or the deadline; returns that data. */
function streamUntil(url: string, cookie: string, until: (data: Record<string, unknown>) => boolean, withinMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { cookie } }, (res) => {
      let buffer = '';
      res.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const message = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(message)?.[1];
          if (data === undefined) continue;
          const parsed = JSON.parse(data) as Record<string, unknown>;
          if (until(parsed)) {
            clearTimeout(timer);
            req.destroy();
            resolve(parsed);
          }
        }
      });
    });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no matching message from ${url} in ${withinMs} ms`));
    }, withinMs);
    req.on('error', () => {});
    req.end();
  });
}

test('with 2 workers the dashboard shows what every worker serves: clients summed, totals equal to /metrics', { timeout: 60_000 }, async (t) => {
  const up = await startUpstream();
  const adminPort = await freePort();
  const file = writeConfig(`server: { workers: 2 }
admin: { host: 127.0.0.1, port: ${adminPort}, token: ${TOKEN} }
rate_limit: { requests_per_second: 0.01, burst: 5, key: ["header:x-api-key", "ip"] }
routes:
  - { path: /api, upstream: "${up.url}" }
`);
  const gw = await serve(file);
  t.after(async () => {
    await stop(gw);
    await up.close();
  });
  const admin = `http://127.0.0.1:${adminPort}`;
  const login = await send(admin, '/dashboard/login', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` });
  assert.equal(login.status, 303);
  const cookie = String(login.headers['set-cookie']).split(';')[0] as string;
  assert.equal((await send(admin, '/dashboard/', { headers: { cookie } })).status, 200);

  const flooder = label('flooding-client');
  // The clients stream is open before the traffic, so every worker's tap is on; new connections spread over the workers.
  const seen = streamUntil(`${admin}/dashboard/api/stream?topic=clients`, cookie, (d) => ((d.clients as { client: string; requests: number }[])[0]?.requests ?? 0) >= 30, 30_000);
  await new Promise((r) => setTimeout(r, 1_500));
  for (let i = 0; i < 30; i++) await fresh(gw.url, '/api/x', 'flooding-client');
  const top = ((await seen).clients as { client: string; requests: number; refusals: number }[])[0];
  assert.equal(top?.client, flooder);
  assert.equal(top?.requests, 30);
  assert.equal(top?.refusals, 25, 'burst 5 across both workers: the rest refused');
  assert.equal(new Set(workersOf(accessLines(gw, (l) => l.client === flooder))).size, 2, 'both workers served the client');

  // The overview's totals are the workers' counters summed: equal to /metrics once a sample has passed.
  const metrics = samples((await send(gw.url, '/metrics')).text);
  const limited = [...metrics].filter(([k]) => k.startsWith('throttlegate_rate_limited_total')).reduce((a, [, v]) => a + v, 0);
  assert.equal(limited, 25);
  const overview = await streamUntil(`${admin}/dashboard/api/stream?topic=overview`, cookie, (d) => (d.totals as { limited: number }).limited === limited, 10_000);
  // The flood's 30, and the /metrics request itself (route none) once it has been counted.
  assert.ok([30, 31].includes((overview.totals as { requests: number }).requests));
});
