import cluster, { type Worker } from 'node:cluster';
import { readFileSync } from 'node:fs';
import { Gauge } from 'prom-client';
import { parseConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { buildAdminApp } from '../admin/app.js';
import { watchConfigFile } from '../gateway/config-watch.js';
import { configHash, createReloader, restartOnlyChanges } from '../gateway/reload.js';
import { createStore } from '../limit/stores/create.js';
import type { Overrides } from '../limit/overrides.js';
import { RedisOverrides } from '../limit/redis-overrides.js';
import { createLogger } from '../observability/logging.js';
import { GatewayMetrics, type TargetStates } from '../observability/metrics.js';
import { storeReadiness } from '../observability/endpoints.js';
import { urlOf } from '../server.js';
import { workerChannel } from './channel.js';
import { ControlLink, type ControlRequest, type WorkerRequest } from './control.js';
import { sumMetrics } from './metrics.js';
import { PrimaryOverrides } from './primary-overrides.js';
import { restartDelayMs } from './restart.js';
import { serveStore } from './store-server.js';
import { DashboardFeed, type FeedExport } from '../dashboard/feed.js';
import { sumSamples, type SerialSample } from '../dashboard/samples.js';

type Link = ControlLink<ControlRequest, WorkerRequest>;

interface Slot {
  worker: Worker;
  link: Link;
  store: { close(): void } | undefined;
  state: 'starting' | 'running' | 'stopping';
  startedAt: number;
  /** Crashes in a row of this slot's workers (reset once one has run a while): the restart backoff. */
  crashes: number;
}

/**
 * The primary process of `server.workers: N` (N > 1): it serves no
 * requests. It owns what must be one: the config (validated once, sent to
 * every worker as text; reloads by SIGHUP or file change, an invalid file
 * changing nothing anywhere), the admin listener, the memory store (workers
 * ask it over IPC, store-server.ts) and the overrides, and the one /metrics
 * (the sum over workers). It restarts a worker that dies, with backoff,
 * releasing the concurrency slots that worker held; its clients keep their
 * state, which lives here. SIGTERM/SIGINT drain every worker, then exit 0.
 * Resolves to the exit code once stopped.
 */
export interface PrimaryOptions {
  /** Told the gateway's URL once every worker listens (the benchmark's targets announce their port with it). */
  readonly onListening?: (url: string) => void;
}

export async function runPrimary(file: string, text: string, config: GatewayConfig, options: PrimaryOptions = {}): Promise<number> {
  const logger = createLogger(config.log.level, undefined, { role: 'primary' });
  const metrics = new GatewayMetrics(() => store.size());
  const store = createStore(config, logger, metrics.storeEvents);
  const local = config.store.type === 'memory';
  const slots: Slot[] = [];
  const running = () => slots.filter((s) => s.state === 'running');
  const overrides: Overrides = local
    ? new PrimaryOverrides(async (entries) => void (await Promise.all(running().map((s) => s.link.ask({ op: 'overrides', entries, replace: false })))))
    : new RedisOverrides(config.store.redis as NonNullable<GatewayConfig['store']['redis']>, logger, Date.now);
  let live = { config, text };
  let stopping = false;

  const workersGauge = new Gauge({ name: 'throttlegate_workers', help: 'Worker processes, by state (starting, running, stopping).', labelNames: ['state'], registers: [metrics.registry] });
  const countWorkers = () => {
    for (const state of ['starting', 'running', 'stopping'] as const) workersGauge.set({ state }, slots.filter((s) => s.state === state).length);
  };
  metrics.render = () => sumMetrics(metrics.registry, running().map((s) => s.link.ask({ op: 'metrics' })));
  metrics.setConfigHash(configHash(config));
  const readiness = storeReadiness(store, () => stopping);
  // Workers each hold and sync their own copy of the keys; the primary's serves the admin API (/v1/keys, id: forms).
  const keys = config.keyStore.type === 'postgres' && config.admin ? new (await import('../keys/store.js')).PostgresKeyStore(config.keyStore.postgres, logger, metrics.registry) : undefined;
  keys?.start();
  const dashboard = config.admin?.dashboard ? dashboardBridge() : undefined;
  const admin = config.admin
    ? await buildAdminApp({ config: () => live.config, store, overrides, logger, metrics, readiness, keys, dashboardFeed: dashboard?.feed, dashboardCluster: dashboard?.cluster })
    : undefined;

  /**
   * The dashboard sees what every worker serves: their request counters
   * summed once a second, and while a page is open, each worker's feed
   * (tallies changed, sampled lines, watched clients) gathered into one.
   */
  function dashboardBridge() {
    const feed = new DashboardFeed();
    const cursors = new WeakMap<Slot, number>();
    const sample = async () => {
      const samples = await Promise.all(running().map((s) => s.link.ask<SerialSample | null>({ op: 'dashboard-sample' }).catch(() => null)));
      return sumSamples(samples.filter((x): x is SerialSample => x !== null), metrics.sample());
    };
    const beforeTick = async () => {
      const watch = feed.watchedLabels;
      const exported = await Promise.all(
        running().map(async (slot) => {
          const e = await slot.link.ask<FeedExport | null>({ op: 'dashboard-feed', active: true, cursor: cursors.get(slot) ?? -1, watch }).catch(() => null);
          if (e !== null) cursors.set(slot, e.cursor);
          return e;
        }),
      );
      feed.absorb(exported.filter((e): e is FeedExport => e !== null), (path) => live.config.routes.find((r) => r.path === path));
    };
    const onActive = (active: boolean) => {
      if (active) return;
      for (const slot of running()) {
        cursors.delete(slot);
        slot.link.tell({ op: 'dashboard-feed', active: false, cursor: -1, watch: [] });
      }
    };
    // A target is shown out when any worker has it out, its circuit at the most open any worker sees.
    const targetStates = async (): Promise<TargetStates> => {
      const all = await Promise.all(running().map((s) => s.link.ask<[string, [string, { healthy: number; circuit: number }][]][]>({ op: 'dashboard-targets' }).catch(() => [])));
      const merged: TargetStates = new Map();
      for (const worker of all)
        for (const [route, targets] of worker) {
          let byTarget = merged.get(route);
          if (byTarget === undefined) merged.set(route, (byTarget = new Map()));
          for (const [url, state] of targets) {
            const held = byTarget.get(url);
            byTarget.set(url, held === undefined ? { ...state } : { healthy: Math.min(held.healthy, state.healthy), circuit: Math.max(held.circuit, state.circuit) });
          }
        }
      return merged;
    };
    return { feed, cluster: { sample, beforeTick, onActive, targetStates } };
  }

  function serveWorker(request: WorkerRequest): unknown {
    if (request.op === 'metrics-text') return metrics.render();
    if (request.op === 'labels') for (const [label, key] of request.entries) overrides.recent.remember(label, key);
    return true;
  }

  async function start(index: number, crashes: number): Promise<string | undefined> {
    const worker = cluster.fork();
    const channel = workerChannel(worker);
    let helloed: () => void = () => {};
    const hello = new Promise<void>((resolve) => (helloed = resolve));
    const link: Link = new ControlLink(channel, (request: WorkerRequest) => (request.op === 'hello' ? helloed() : serveWorker(request)));
    const slot: Slot = { worker, link, store: local ? serveStore(store, channel) : undefined, state: 'starting', startedAt: Date.now(), crashes };
    slots[index] = slot;
    countWorkers();
    worker.once('exit', (code, signal) => exited(index, slot, code, signal));
    try {
      await Promise.race([hello, new Promise((_, reject) => worker.once('exit', () => reject(new Error('worker exited before it was ready'))))]);
      if (overrides instanceof PrimaryOverrides) await slot.link.ask({ op: 'overrides', entries: overrides.snapshot(), replace: true });
      const url = await slot.link.ask<string>({ op: 'config', text: live.text, file });
      if (slot.state === 'starting') slot.state = 'running';
      countWorkers();
      return url;
    } catch (err) {
      logger.error({ worker: worker.id, err }, 'worker failed to start');
      worker.kill('SIGKILL');
      return undefined;
    }
  }

  function exited(index: number, slot: Slot, code: number | null, signal: string | null): void {
    slot.store?.close();
    slot.state = 'stopping';
    countWorkers();
    if (stopping) return;
    // One that ran a while was not crash-looping: its successor starts at once.
    const crashes = Date.now() - slot.startedAt > 10_000 ? 0 : slot.crashes + 1;
    const delay = restartDelayMs(crashes);
    logger.warn({ worker: slot.worker.id, code, signal, restart_in_ms: delay }, 'worker exited; starting another');
    setTimeout(() => {
      if (!stopping) void start(index, crashes);
    }, delay).unref();
  }

  // Each reload sends workers the text it validated: the loader keeps it for reload(), which follows it in
  // createReloader's queue, so the two always belong to the same read.
  let loadedText = text;
  const load = (path: string, env: NodeJS.ProcessEnv): GatewayConfig => {
    loadedText = readFileSync(path, 'utf8');
    return parseConfig(loadedText, path, env);
  };
  const workersConfig = {
    get config() {
      return live.config;
    },
    async reload(next: GatewayConfig): Promise<{ ignored: string[] }> {
      const nextText = loadedText;
      const results = await Promise.allSettled(running().map((s) => s.link.ask({ op: 'config', text: nextText, file })));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length > 0) throw new Error(`${failed.length} worker(s) refused the config: ${(failed[0]?.reason as Error).message}`);
      const ignored = restartOnlyChanges(live.config, next);
      live = { config: next, text: nextText };
      metrics.setConfigHash(configHash(next));
      return { ignored };
    },
  };
  const reload = createReloader(file, workersConfig, logger, metrics, process.env, load);

  process.on('SIGHUP', () => void reload('SIGHUP'));
  const stopWatching = watchConfigFile(file, () => void reload('file change'), logger);

  const done = new Promise<number>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      stopWatching();
      logger.info({ signal, workers: running().length, grace_ms: live.config.server.shutdownGraceMs }, 'shutting down: draining every worker');
      for (const slot of slots) slot.link.tell({ op: 'shutdown' });
      const cut = setTimeout(() => {
        for (const slot of slots) if (!slot.worker.isDead()) slot.worker.kill('SIGKILL');
      }, live.config.server.shutdownGraceMs + 2_000);
      cut.unref();
      const exits = slots.map((slot) => (slot.worker.isDead() ? Promise.resolve() : new Promise<void>((r) => slot.worker.once('exit', () => r()))));
      void Promise.all(exits)
        .then(() => Promise.all([admin?.close(), store.close(), overrides.close(), keys?.close()]))
        .then(() => {
          logger.info('shutdown complete');
          logger.flush(() => resolve(0));
        });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });

  await Promise.all([store.whenReady?.(), overrides.whenReady?.()]);
  const urls = await Promise.all(Array.from({ length: config.server.workers }, (_, i) => start(i, 0)));
  const url = urls.find((u) => u !== undefined);
  if (url === undefined) {
    logger.error('no worker could start');
    stopping = true;
    for (const slot of slots) slot.worker.kill('SIGKILL');
    await Promise.all([admin?.close(), store.close(), overrides.close(), keys?.close()]);
    return 1;
  }
  let adminUrl: string | undefined;
  if (admin && config.admin) {
    await admin.listen({ host: config.admin.host, port: config.admin.port });
    adminUrl = urlOf(admin.server.address());
  }
  logger.info({ url, workers: config.server.workers, ...(adminUrl === undefined ? {} : { admin: adminUrl }), config: config.file }, `throttlegate listening on ${url}`);
  logger.flush();
  options.onListening?.(url);
  return done;
}
