/**
 * `npm run proof:adaptive`: issue 17's "Proof: labelled traffic" on several
 * seeds. For each seed the default mix runs for PROOF_SECONDS (default 60)
 * against a real gateway in `enforce`, then against a fresh one in `shadow`,
 * both in this process on real sockets, with the bundled origin behind them.
 * At PROOF_LABEL_AT_S (default 20) an operator labels the batch jobs `good`
 * through the admin API. Printed per seed: the traffic report per class (what
 * clients got), shadow's would-be actions against enforce's actions per
 * class, and what the batch jobs got after their label.
 *
 * Real time, not CPU-bound (about 170 requests a second): 2 x seeds x 60 s.
 */
import { Writable } from 'node:stream';
import { buildGateway, parseConfig } from '../src/index.js';
import { createLogger } from '../src/observability/logging.js';
import { startOrigin } from '../src/adaptive/traffic/origin-server.js';
import { DEFAULT_MIX, generate } from '../src/adaptive/traffic/mix.js';
import { runTraffic } from '../src/adaptive/traffic/runner.js';
import { formatReport } from '../src/adaptive/traffic/report.js';
import { CLASS_NAMES, type ClassName, type TrafficEvent } from '../src/adaptive/traffic/classes.js';
import { digestOf, ipIdentity, unverifiedLabel } from '../src/limit/keys.js';

const SEEDS = (process.env.PROOF_SEEDS ?? '1,2,3').split(',').map(Number);
const SECONDS = Number(process.env.PROOF_SECONDS ?? 60);
const LABEL_AT_MS = Number(process.env.PROOF_LABEL_AT_S ?? 20) * 1000;
const TOKEN = 'adaptive-proof-token-0123456789';
// More keys for the adaptive block, e.g. PROOF_ADAPTIVE=', failed_logins: 0'.
const EXTRA = process.env.PROOF_ADAPTIVE ?? '';

type Mode = 'enforce' | 'shadow';
interface Line { client: string; risk_action?: string; status: number; at: number }

function configFor(mode: Mode, originUrl: string): string {
  return `server: { trust_proxy: 1 }
rate_limit: { requests_per_second: 20, burst: 40, key: ["header:x-api-key", ip], unverified_key_envelope: false }
adaptive: { mode: ${mode}${EXTRA} }
admin: { port: 0, token: ${TOKEN} }
routes:
  - path: /api/login
    upstream: ${originUrl}
    login: true
  - path: /
    upstream: ${originUrl}
`;
}

/** The log label the gateway gives each generated client's requests (its key's, else its address's). */
function labelOf(event: TrafficEvent): string {
  return event.apiKey !== undefined ? unverifiedLabel(digestOf(event.apiKey)) : ipIdentity(event.ip).label;
}

async function runOnce(mode: Mode, seed: number, originUrl: string) {
  const lines: Line[] = [];
  const feedback: string[] = [];
  const started = performance.now();
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) {
        if (text.includes('"msg":"adaptive feedback"')) feedback.push(text);
        if (!text.includes('"msg":"request"')) continue;
        const l = JSON.parse(text) as Line;
        lines.push({ client: l.client, risk_action: l.risk_action, status: l.status, at: performance.now() - started });
      }
      done();
    },
  });
  const gateway = await buildGateway(parseConfig(configFor(mode, originUrl), '<proof>', {}), { logger: createLogger('info', sink), port: 0, adminPort: 0, host: '127.0.0.1' });
  const url = await gateway.listen();
  const events = generate(DEFAULT_MIX, seed, SECONDS * 1000);
  const batchKeys = [...new Set(events.filter((e) => e.cls === 'batch').map((e) => e.apiKey).filter((k): k is string => k !== undefined))];
  let labelledAt = Infinity;
  const labelTimer = setTimeout(() => {
    labelledAt = performance.now() - started;
    for (const key of batchKeys) {
      void fetch(`${gateway.adminUrl}/v1/feedback`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ key, label: 'good' }),
      }).then((r) => r.text());
    }
  }, LABEL_AT_MS);
  const run = await runTraffic({ target: url, durationMs: SECONDS * 1000, seed });
  clearTimeout(labelTimer);
  await gateway.close();
  return { run, lines, labelledAt, events, feedback };
}

function classOfLabel(events: readonly TrafficEvent[]): Map<string, ClassName> {
  const map = new Map<string, ClassName>();
  for (const e of events) map.set(labelOf(e), e.cls);
  return map;
}

/** Per class: requests enforce refused for the score (limited + blocked), and those shadow says it would have. */
function actionsByClass(lines: readonly Line[], classes: Map<string, ClassName>, acted: (action: string | undefined) => boolean): Map<ClassName, number> {
  const out = new Map<ClassName, number>(CLASS_NAMES.map((c) => [c, 0]));
  for (const l of lines) {
    const cls = classes.get(l.client);
    if (cls !== undefined && acted(l.risk_action)) out.set(cls, (out.get(cls) ?? 0) + 1);
  }
  return out;
}

/** Per client of a class: how many of its requests, and how many seconds from its first, until its first 403 or 429. */
function reaction(events: readonly TrafficEvent[], statuses: ArrayLike<number>, cls: ClassName): string {
  const seen = new Map<string, { first: number; count: number; acted: { requests: number; seconds: number } | null }>();
  events.forEach((e, i) => {
    if (e.cls !== cls) return;
    const c = seen.get(e.client) ?? { first: e.at, count: 0, acted: null };
    c.count++;
    const status = statuses[i] as number;
    if (c.acted === null && (status === 403 || status === 429)) c.acted = { requests: c.count, seconds: (e.at - c.first) / 1000 };
    seen.set(e.client, c);
  });
  const clients = [...seen.values()];
  const acted = clients.filter((c) => c.acted !== null).map((c) => c.acted as { requests: number; seconds: number });
  const worst = acted.length === 0 ? 'none acted on' : `at worst after ${Math.max(...acted.map((a) => a.requests))} requests / ${Math.max(...acted.map((a) => a.seconds)).toFixed(1)} s`;
  return `${acted.length} of ${clients.length} acted on (recall ${(acted.length / Math.max(1, clients.length)).toFixed(2)}), ${worst}`;
}

async function main(): Promise<void> {
  const origin = await startOrigin({});
  console.log(`default mix, ${SECONDS} s per run, seeds ${SEEDS.join(', ')}; batch jobs labelled good at ${LABEL_AT_MS / 1000} s; gateway: 20 rps burst 40 per key, /api/login marked login: true\n`);
  for (const seed of SEEDS) {
    const enforce = await runOnce('enforce', seed, origin.url);
    const shadow = await runOnce('shadow', seed, origin.url);
    const classes = classOfLabel(enforce.events);
    console.log(`## seed ${seed}\n\nenforce (what clients got):\n${formatReport(enforce.run.report)}\n`);
    const shadowSeen = shadow.run.report.classes.map((c) => c.refusedShare + c.blockedShare).reduce((a, b) => a + b, 0);
    const enforced = actionsByClass(enforce.lines, classes, (a) => a === 'limited' || a === 'blocked');
    const would = actionsByClass(shadow.lines, classes, (a) => a === 'would_limit' || a === 'would_block');
    console.log('| class | enforce: limited + blocked for the score | shadow: would_limit + would_block | shadow clients refused |');
    console.log('|---|---|---|---|');
    for (const cls of CLASS_NAMES) {
      const seen = shadow.run.report.classes.find((c) => c.class === cls);
      console.log(`| ${cls} | ${enforced.get(cls)} | ${would.get(cls)} | ${seen === undefined ? '-' : ((seen.refusedShare + seen.blockedShare) * 100).toFixed(1) + ' %'} |`);
    }
    for (const cls of ['stuffer', 'scanner'] as const) console.log(`${cls}s: ${reaction(enforce.run.events, enforce.run.statuses, cls)}`);
    const batchLabels = new Set(enforce.events.filter((e) => e.cls === 'batch').map(labelOf));
    const afterLabel = enforce.lines.filter((l) => batchLabels.has(l.client) && l.at > enforce.labelledAt + 100);
    const cutAfter = afterLabel.filter((l) => l.risk_action === 'limited' || l.risk_action === 'blocked').length;
    const refusedAfter = afterLabel.filter((l) => l.status === 429 || l.status === 403).length;
    console.log(`\nbatch jobs after their good label: ${afterLabel.length} requests, ${cutAfter} limited or blocked for the score, ${refusedAfter} refused at all (429 by their own configured limit, 403)`);
    console.log(`feedback learned: enforce ${enforce.feedback.length} (${enforce.feedback.filter((f) => f.includes('"source":"outcome"')).length} from failed logins), shadow ${shadow.feedback.length}`);
    console.log(`shadow: ${shadowSeen === 0 ? 'no class saw a refusal' : 'some class saw a refusal (their configured limits)'}\n`);
  }
  await origin.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
