/**
 * `npm run bench:overload`: issue 17's overload targets. An origin that
 * serves SLOTS requests at a time, SERVICE_MS each (capacity SLOTS * 1000 /
 * SERVICE_MS req/s; the rest queue), behind the gateway with and without
 * `adaptive_concurrency`, offered an open-loop load of 2x and 10x its
 * capacity for SECONDS: half from normal clients (browser headers, known
 * paths), half from suspicious ones (curl, no Accept-Language, unknown
 * paths: the shipped weights score them about 70, the suspicious band), each
 * client from its own network. Goodput: answers from the origin within the SLO, per second, as a
 * share of capacity; and whether any suspicious request was admitted in a
 * 100 ms slot where a normal one was shed. Gateway on CPU 0, the rest on CPU 1.
 */
import { createServer } from 'node:http';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { canPin, killAll, pinSelf, start, stop } from './procs.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SLOTS = 8;
const SERVICE_MS = 40;
const CAPACITY = (SLOTS * 1000) / SERVICE_MS; // 200 req/s
const SECONDS = Number(process.env.OVERLOAD_SECONDS ?? 10);
const SLO_MS = 1000;
// OVERLOAD_MULTIPLES=10 runs one load only; OVERLOAD_DETAIL=1 adds a per-second breakdown of each run (where goodput is lost).
const MULTIPLES = (process.env.OVERLOAD_MULTIPLES ?? '2,10').split(',').map(Number);
const DETAIL = process.env.OVERLOAD_DETAIL === '1';

function startOrigin(): Promise<{ port: number; close(): void }> {
  let busy = 0;
  const queue: (() => void)[] = [];
  const server = createServer((req, res) => {
    const serve = () => {
      busy++;
      setTimeout(() => {
        busy--;
        res.writeHead(req.url?.startsWith('/api/items/') ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
        queue.shift()?.();
      }, SERVICE_MS);
    };
    if (busy < SLOTS) serve();
    else queue.push(serve);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: (server.address() as { port: number }).port, close: () => server.close() })));
}

interface Outcome { readonly at: number; readonly suspicious: boolean; readonly status: number; readonly ms: number }

async function offer(port: number, multiple: number): Promise<Outcome[]> {
  const rate = CAPACITY * multiple;
  const agent = new Agent({ connections: 512, pipelining: 1 });
  const outcomes: Outcome[] = [];
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const suspicious = sent % 2 === 1;
      const n = sent % 40;
      const key = `${suspicious ? 'sus' : 'norm'}-${n}`;
      // Each client from a network of its own (X-Forwarded-For; the gateway trusts one hop), so no network shows key churn.
      const forwarded = `10.${suspicious ? 1 : 2}.${n}.5`;
      const headers: Record<string, string> = suspicious
        ? { 'x-api-key': key, 'x-forwarded-for': forwarded, 'user-agent': 'curl/8.4.0', accept: '*/*' }
        : { 'x-api-key': key, 'x-forwarded-for': forwarded, 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/125.0', accept: 'application/json', 'accept-language': 'en' };
      const started = performance.now();
      const path = suspicious ? `/api/probe/${sent}` : `/api/items/${sent % 100}`;
      pending.push(
        request(`http://127.0.0.1:${port}${path}`, { dispatcher: agent, headers, headersTimeout: 30_000, bodyTimeout: 30_000 })
          .then(async (r) => {
            await r.body.dump();
            outcomes.push({ at: started - t0, suspicious, status: r.statusCode, ms: performance.now() - started });
          })
          .catch(() => {
            outcomes.push({ at: started - t0, suspicious, status: 0, ms: performance.now() - started });
          }),
      );
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(pending);
  await agent.close();
  return outcomes;
}

function summarise(label: string, multiple: number, outcomes: readonly Outcome[]): string {
  const served = (o: Outcome) => o.status === 200 || o.status === 404;
  const good = outcomes.filter((o) => served(o) && o.ms <= SLO_MS).length;
  const shed = outcomes.filter((o) => o.status === 503);
  // Inversions: a 100 ms slot where a suspicious request was admitted while a normal one was shed.
  const slots = new Map<number, { admittedSuspicious: boolean; shedNormal: boolean }>();
  for (const o of outcomes) {
    const s = slots.get(Math.floor(o.at / 100)) ?? { admittedSuspicious: false, shedNormal: false };
    if (o.suspicious && served(o)) s.admittedSuspicious = true;
    if (!o.suspicious && o.status === 503) s.shedNormal = true;
    slots.set(Math.floor(o.at / 100), s);
  }
  const inversions = [...slots.values()].filter((s) => s.admittedSuspicious && s.shedNormal).length;
  // Causal: a suspicious request admitted within 100 ms (one sample window) after a normal one was shed (send times).
  const shedNormalAt = outcomes.filter((o) => !o.suspicious && o.status === 503).map((o) => o.at).sort((a, b) => a - b);
  const causal = outcomes.filter((o) => o.suspicious && served(o) && shedWithin(shedNormalAt, o.at - 100, o.at)).length;
  const p99 = [...outcomes.filter(served).map((o) => o.ms)].sort((a, b) => a - b)[Math.floor(outcomes.filter(served).length * 0.99)] ?? 0;
  return `| ${label} | ${multiple}x (${CAPACITY * multiple}/s) | ${outcomes.length} | ${(good / SECONDS).toFixed(0)}/s = ${((good / SECONDS / CAPACITY) * 100).toFixed(0)} % | ${shed.filter((o) => o.suspicious).length} / ${shed.filter((o) => !o.suspicious).length} | ${inversions} / ${causal} | ${p99.toFixed(0)} |`;
}

/**
 * From the gateway's access lines (the band each request was admitted or shed
 * as, not the client's class: a suspicious client's first requests score
 * normal): suspicious-band requests forwarded, normal- or trusted-band
 * requests shed, and suspicious ones that arrived within 100 ms after a more
 * trusted one was shed (arrival = line time - duration). Times are the
 * gateway's Date.now, so to the millisecond.
 */
function bandInversions(text: string): string {
  const admittedSuspicious: number[] = [];
  const shedTrusted: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('"msg":"request"')) continue;
    const l = JSON.parse(line) as { time: number; duration_ms: number; band?: string; decision: string };
    const arrived = l.time - l.duration_ms;
    if (l.decision === 'overloaded' && (l.band === 'normal' || l.band === 'trusted')) shedTrusted.push(arrived);
    else if (l.decision !== 'overloaded' && l.band === 'suspicious') admittedSuspicious.push(arrived);
  }
  shedTrusted.sort((a, b) => a - b);
  const inverted = admittedSuspicious.filter((t) => shedWithin(shedTrusted, t - 100, t + 1)).length;
  return `${admittedSuspicious.length}, ${shedTrusted.length}, ${inverted}`;
}

/** Whether the sorted times hold one in [from, to). */
function shedWithin(sorted: readonly number[], from: number, to: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as number) < from) lo = mid + 1;
    else hi = mid;
  }
  return lo < sorted.length && (sorted[lo] as number) < to;
}

/** Per second of the run (by when each request was sent): answered within the SLO, answered late, shed, failed. */
function perSecond(outcomes: readonly Outcome[]): string {
  const rows: string[] = [];
  for (let s = 0; s < SECONDS; s++) {
    const inSecond = outcomes.filter((o) => o.at >= s * 1000 && o.at < (s + 1) * 1000);
    const served = inSecond.filter((o) => o.status === 200 || o.status === 404);
    const late = served.filter((o) => o.ms > SLO_MS).length;
    const maxMs = Math.max(0, ...served.map((o) => o.ms));
    rows.push(`  s${s}: within SLO ${served.length - late}, late ${late} (max ${maxMs.toFixed(0)} ms), shed ${inSecond.filter((o) => o.status === 503).length}, failed ${inSecond.filter((o) => o.status === 0).length}`);
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const pinned = canPin();
  if (pinned) pinSelf(1);
  const origin = await startOrigin();
  console.log(`origin: ${SLOTS} slots x ${SERVICE_MS} ms = ${CAPACITY} req/s; ${SECONDS} s per run; SLO ${SLO_MS} ms\n`);
  console.log('| gateway | offered | requests | goodput (origin answers within SLO) | shed 503 suspicious / normal | 100 ms slots with a suspicious admitted and a normal shed / suspicious admitted within 100 ms after a normal shed | p99 ms of answered | by the gateway bands: admitted suspicious, shed normal or trusted, suspicious admitted while (within 100 ms after) a more trusted one was shed | loader + origin CPU % (CPU 1) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const multiple of MULTIPLES) {
    for (const mode of ['off', 'on'] as const) {
      const logFile = join(tmpdir(), `overload-${process.pid}-${mode}-${multiple}.log`);
      const gw = await start(`gateway ${mode}`, join(HERE, 'overload-gateway.js'), [String(origin.port), mode, logFile], pinned ? 0 : undefined);
      const cpu = process.cpuUsage();
      const wall = performance.now();
      const outcomes = await offer(gw.port, multiple);
      const used = process.cpuUsage(cpu);
      const loader = ((used.user + used.system) / 1000 / (performance.now() - wall)) * 100;
      await stop(gw);
      const byBand = bandInversions(readFileSync(logFile, 'utf8'));
      rmSync(logFile, { force: true });
      console.log(`${summarise(mode === 'on' ? 'adaptive_concurrency' : 'no adaptive_concurrency', multiple, outcomes)} ${byBand} | ${loader.toFixed(0)} |`);
      if (DETAIL) console.log(perSecond(outcomes));
    }
  }
  origin.close();
}

process.on('exit', killAll);
main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  killAll();
  process.exit(1);
});
