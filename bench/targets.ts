/**
 * The baseline and gateway targets (the peer is in peer.ts). Each target-X.js
 * entry file calls one of these with the origin port from argv (and the Redis
 * port after it for Redis targets); it listens on 127.0.0.1:0 and prints `ready PORT`.
 */
import fastify from 'fastify';
import httpProxy from '@fastify/http-proxy';
import cluster from 'node:cluster';
import { mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrimary } from '../src/cluster/primary.js';
import { runWorker } from '../src/cluster/worker.js';
import { buildGateway, parseConfig } from '../src/index.js';
import { batchedLines, createLogger, type LineSink } from '../src/observability/logging.js';
import { announce, fail, portArg, portOf } from './child.js';
import { hashApiKey } from '../src/limit/api-keys.js';
import { SINGLE_KEY } from './load.js';
import { canPin, start } from './procs.js';
import { fileURLToPath } from 'node:url';

/** A rate-limit policy in config terms (burst must be an integer >= 1). */
export interface BenchPolicy {
  readonly requestsPerSecond: number;
  readonly burst: number;
}

/** (b) and (e), never triggers: a bucket is full again 1 ns after each request, so the sweeper (or Redis expiry) forgets it. */
export const NEVER: BenchPolicy = { requestsPerSecond: 1e9, burst: 1_000_000_000 };
/** (c) and (f), one key is refused almost always. */
export const FLOOD: BenchPolicy = { requestsPerSecond: 1, burst: 1 };
/**
 * (d) and (g), never triggers either (a key would need 1e9 requests), but each request
 * pushes its bucket's refill 1000 s out, so all 100k buckets stay in the store
 * (and Redis) for the whole run instead of being swept within a second as with NEVER.
 */
export const HOLD: BenchPolicy = { requestsPerSecond: 0.001, burst: 1_000_000_000 };

/** Where the gateway keeps buckets: its own memory, or the bench's Redis under a prefix of the target's own. */
export type BenchStore = { readonly type: 'memory' } | { readonly type: 'redis'; readonly port: number; readonly keyPrefix: string };

export function gatewayYaml(originPorts: number | readonly number[], policy: BenchPolicy, store: BenchStore = { type: 'memory' }, adaptive = false): string {
  const ports = typeof originPorts === 'number' ? [originPorts] : originPorts;
  return [
    'log:',
    '  level: info',
    ...(adaptive ? ['adaptive:', '  mode: enforce'] : []),
    'rate_limit:',
    `  requests_per_second: ${policy.requestsPerSecond}`,
    `  burst: ${policy.burst}`,
    '  key: [header:x-api-key, ip]',
    ...(store.type === 'redis'
      ? [
          'store:',
          '  type: redis',
          '  redis:',
          `    url: redis://127.0.0.1:${store.port}`,
          `    key_prefix: "${store.keyPrefix}"`,
          '    timeout_ms: 50',
          '    on_error: local',
        ]
      : []),
    'routes:',
    '  - path: /api',
    ...(ports.length === 1
      ? [`    upstream: http://127.0.0.1:${ports[0]}`]
      : ['    upstream:', '      targets:', ...ports.map((port) => `        - { url: "http://127.0.0.1:${port}" }`)]),
    '',
  ].join('\n');
}

/** (a) The baseline: fastify 5 + @fastify/http-proxy with defaults, no logging. */
export function runBare(): void {
  const originPort = portArg('target-a.js');
  const app = fastify({ logger: false });
  (async () => {
    await app.register(httpProxy, { upstream: `http://127.0.0.1:${originPort}`, prefix: '/api' });
    await app.listen({ port: 0, host: '127.0.0.1' });
    announce(portOf(app.server.address()));
  })().catch(fail);
}

/**
 * (b), (c), (d): the gateway on its memory store; with `redisKeyPrefix`, (e),
 * (f), (g) on the Redis whose port is argv[3]. Logging at info to /dev/null.
 */
export function runGateway(policy: BenchPolicy, name: string, redisKeyPrefix?: string, adaptive = false): void {
  const originPort = portArg(name);
  const store: BenchStore = redisKeyPrefix === undefined
    ? { type: 'memory' }
    : { type: 'redis', port: portArg(name, 3), keyPrefix: redisKeyPrefix };
  listenGateway(gatewayYaml(originPort, policy, store, adaptive)).then(announce).catch(fail);
}

/** The gateway of a bench config, logging at info to /dev/null, listening on a free port: resolves to that port. */
async function listenGateway(yaml: string): Promise<number> {
  const config = parseConfig(yaml, '<bench>', {});
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'info', batchedLines(devNull()));
  const gateway = await buildGateway(config, { port: 0, host: '127.0.0.1', logger });
  await gateway.listen();
  return portOf(gateway.server.address());
}

/**
 * (t), (u): two independent gateways of runGateway (each its own memory
 * store) in two node:cluster workers on one port; this script is the primary,
 * which only forks them and announces the port they share.
 */
export function runIndependentGateways(policy: BenchPolicy, name: string): void {
  if (cluster.isWorker) return runGatewayInWorker(policy, name);
  cluster.setupPrimary({ stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit', 'ipc'] });
  const ports = new Set<number>();
  let listening = 0;
  for (let i = 0; i < 2; i++) {
    cluster.fork().on('message', (message: { port?: number }) => {
      if (typeof message.port !== 'number') return;
      ports.add(message.port);
      // node:cluster hands every worker listening on port 0 the same port.
      if (++listening < 2) return;
      if (ports.size !== 1) fail(new Error(`workers listen on ${[...ports].join(', ')}`));
      announce(message.port);
    });
  }
}

/** A worker of runIndependentGateways: the gateway of runGateway, telling the primary its port; it exits with the primary. */
function runGatewayInWorker(policy: BenchPolicy, name: string): void {
  const originPort = portArg(name);
  process.on('disconnect', () => process.exit(0));
  listenGateway(gatewayYaml(originPort, policy)).then((port) => process.send?.({ port })).catch(fail);
}

/**
 * (r): the gateway of (b) with `tracing:` on at `ratio`, exporting to the
 * bench's OTLP sink whose port is argv[3] (a process of the runner's, so its
 * CPU is not the target's). No request carries a traceparent: each starts a
 * trace, and `ratio` of them are recorded and exported.
 */
export function runTracingGateway(name: string, ratio: number): void {
  const originPort = portArg(name);
  const sinkPort = portArg(name, 3);
  const yaml = gatewayYaml(originPort, NEVER).replace('routes:\n', `tracing:\n  otlp_endpoint: http://127.0.0.1:${sinkPort}\n  sample_ratio: ${ratio}\nroutes:\n`);
  const config = parseConfig(yaml, '<bench>', {});
  if (config.tracing?.sampleRatio !== ratio) fail(new Error('(r): tracing should be on'));
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'info', batchedLines(devNull()));
  buildGateway(config, { port: 0, host: '127.0.0.1', logger })
    .then((gateway) => gateway.listen().then(() => announce(portOf(gateway.server.address()))))
    .catch(fail);
}

/**
 * (s): the gateway of (b) with its admin listener and a dashboard session
 * streaming three topics at once (overview, clients, live log: more than one
 * open tab shows), read by a viewer process of its own on the loader's CPU
 * (dashboard-viewer.ts): the feed's tap on every request, the per-second
 * aggregation and the streams' writes are what this process pays.
 */
export function runDashboardGateway(name: string): void {
  const originPort = portArg(name);
  const token = 'bench-dashboard-token-0123456789';
  const yaml = gatewayYaml(originPort, NEVER).replace('routes:\n', `admin:\n  host: 127.0.0.1\n  port: 0\n  token: ${token}\nroutes:\n`);
  const config = parseConfig(yaml, '<bench>', {});
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'info', batchedLines(devNull()));
  buildGateway(config, { port: 0, host: '127.0.0.1', logger })
    .then(async (gateway) => {
      await gateway.listen();
      await start('dashboard viewer', fileURLToPath(new URL('./dashboard-viewer.js', import.meta.url)), [gateway.adminUrl as string, token], canPin() ? 1 : undefined);
      announce(portOf(gateway.server.address()));
    })
    .catch(fail);
}

/** (l): the gateway of (b), forwarding to a round-robin pool of the origins whose ports are argv[2..]. */
export function runPoolGateway(name: string): void {
  const ports = process.argv.slice(2).map((_, i) => portArg(name, 2 + i));
  if (ports.length < 2) fail(new Error(`usage: node ${name} ORIGIN_PORT ORIGIN_PORT...`));
  const config = parseConfig(gatewayYaml(ports, NEVER), '<bench>', {});
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'info', batchedLines(devNull()));
  buildGateway(config, { port: 0, host: '127.0.0.1', logger })
    .then((gateway) => gateway.listen().then(() => announce(portOf(gateway.server.address()))))
    .catch(fail);
}

/**
 * (m): (b) with the issue 4 work on every request: the bench's key is an
 * api_keys entry of plan `pro` (a SHA-256 and a lookup), whose two limits
 * (token bucket, sliding window) join the route's shared gcra limit: three
 * limits decided together. None ever refuses.
 */
export function runPlanGateway(name: string): void {
  const originPort = portArg(name);
  const yaml = gatewayYaml(originPort, NEVER).replace(
    'routes:\n',
    [
      'plans:',
      '  pro:',
      '    limits:',
      `      - { requests_per_second: ${NEVER.requestsPerSecond}, burst: ${NEVER.burst} }`,
      '      - { algorithm: sliding_window, limit: 1000000000, window: 1s }',
      'api_keys:',
      `  - { id: bench, hash: "${hashApiKey(SINGLE_KEY)}", plan: pro }`,
      'routes:',
      '',
    ].join('\n'),
  ).replace(
    `    upstream: http://127.0.0.1:${originPort}\n`,
    `    upstream: http://127.0.0.1:${originPort}\n    rate_limit:\n      limits:\n` +
      `        - { requests_per_second: ${NEVER.requestsPerSecond}, burst: ${NEVER.burst} }\n` +
      `        - { algorithm: gcra, requests_per_second: ${NEVER.requestsPerSecond}, burst: ${NEVER.burst}, scope: route }\n`,
  );
  const config = parseConfig(yaml, '<bench>', {});
  if (config.routes[0]?.limitSets?.plans.pro?.limits.length !== 3) fail(new Error('(m): the plan set should hold three limits'));
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'info', batchedLines(devNull()));
  buildGateway(config, { port: 0, host: '127.0.0.1', logger })
    .then((gateway) => gateway.listen().then(() => announce(portOf(gateway.server.address()))))
    .catch(fail);
}

/**
 * (o), (p): the gateway of (b)/(c) with `server.workers: 2`, as the CLI runs
 * it: this script is the primary, and node:cluster runs it again as each
 * worker (runWorker). Workers log to stdout (a pipe the bench drains) rather
 * than /dev/null: a worker's sink is the process's stdout.
 */
export function runWorkersGateway(policy: BenchPolicy, name: string): void {
  if (cluster.isWorker) return runWorker({ port: 0, host: '127.0.0.1' });
  const originPort = portArg(name);
  const text = gatewayYaml(originPort, policy).replace('log:\n', 'server:\n  workers: 2\n  port: 8080\nlog:\n');
  const file = join(mkdtempSync(join(tmpdir(), 'tg-bench-')), 'config.yaml');
  writeFileSync(file, text);
  // The workers' lines go where (b)'s and (c)'s go, /dev/null, so the rows compare processes, not log sinks.
  cluster.setupPrimary({ stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit', 'ipc'] });
  runPrimary(file, text, parseConfig(text, file, {}), { onListening: (url) => announce(Number(new URL(url).port)) })
    .then((code) => process.exit(code))
    .catch(fail);
}

/** Log lines go to /dev/null, with the write(2) calls a file or pipe on stdout would cost. */
function devNull(): LineSink {
  const fd = openSync('/dev/null', 'w');
  return { write: (text: string, callback?: () => void) => { writeSync(fd, text); callback?.(); } };
}
