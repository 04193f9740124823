import cluster from 'node:cluster';
import { parseConfig } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { closeOnSignals } from '../lifecycle.js';
import { batchedLines, createLogger, sharedStdoutBatching, type Logger } from '../observability/logging.js';
import { buildGateway, type Gateway } from '../server.js';
import { processChannel } from './channel.js';
import { ControlLink, type ControlRequest, type WorkerRequest } from './control.js';
import { ReplicaOverrides } from './replica-overrides.js';
import { IpcStore } from './store-client.js';
import { serialiseSample } from '../dashboard/samples.js';

export interface WorkerFlags {
  readonly port: number | undefined;
  readonly host: string | undefined;
}

/**
 * One worker process (`server.workers` > 1): serves the gateway's port (the
 * primary hands it connections) with the config the primary sends, never
 * read from disk here, so every worker serves what the primary validated.
 * On the memory store its limits are decided by the primary's store
 * (IpcStore) and its overrides are the primary's (ReplicaOverrides); on
 * Redis it talks to Redis itself, as a single process does. No admin
 * listener and no config watch: those are the primary's. When the primary
 * goes away the worker drains and exits (no orphan keeps the port).
 */
export function runWorker(flags: WorkerFlags): void {
  const channel = processChannel();
  const id = cluster.worker?.id ?? 0;
  let gateway: Gateway | undefined;
  let logger: Logger | undefined;
  // Set by the first SIGTERM/SIGINT (closeOnSignals drains on it); a second one would exit at once, so none is sent twice.
  let draining = false;
  const drain = (): void => {
    if (draining) return;
    draining = true;
    process.kill(process.pid, 'SIGTERM');
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => (draining = true));
  // Before the config: the primary sends the overrides in force first, and the memory store's requests read them.
  const overrides = new ReplicaOverrides((entries) => link.tell({ op: 'labels', entries }));

  const link: ControlLink<WorkerRequest, ControlRequest> = new ControlLink(channel, async (request) => {
    switch (request.op) {
      case 'config': {
        const config = parseConfig(request.text, request.file);
        if (gateway !== undefined) return gateway.reload(config);
        return start(config);
      }
      case 'overrides':
        overrides.apply(request.entries, request.replace);
        return true;
      case 'metrics':
        return gateway?.metrics.registry.getMetricsAsJSON() ?? [];
      case 'dashboard-sample':
        return gateway === undefined ? null : serialiseSample(gateway.metrics.sample());
      case 'dashboard-targets':
        return gateway === undefined ? [] : [...(await gateway.metrics.targetStates())].map(([route, targets]) => [route, [...targets]]);
      case 'dashboard-feed': {
        const feed = gateway?.dashboardFeed;
        if (feed == null) return null;
        feed.active = request.active;
        feed.collectDeltas(request.active);
        return request.active ? feed.exportTick(request.cursor, request.watch) : null;
      }
      case 'shutdown':
        drain();
        return true;
    }
  });

  async function start(config: GatewayConfig): Promise<string> {
    // Workers share stdout: on a pipe, whole batches of at most PIPE_BUF bytes, so no line is ever torn.
    const batching = sharedStdoutBatching();
    logger = createLogger(config.log.level, batchedLines(process.stdout, batching.chars, batching.atomicBytes), { worker: id });
    const memory = config.store.type === 'memory';
    gateway = await buildGateway(config, {
      logger,
      store: memory ? new IpcStore(channel, { onLocalDenial: () => gateway?.metrics.storeEvents.onLocalDenial() }) : undefined,
      overrides: memory ? overrides : undefined,
      admin: false,
      // The primary's dashboard gathers what each worker's access log taps.
      dashboardFeed: config.admin?.dashboard === true,
      port: flags.port,
      host: flags.host,
      renderMetrics: () => link.ask<string>({ op: 'metrics-text' }),
    });
    closeOnSignals(gateway, logger, config.server.shutdownGraceMs);
    const url = await gateway.listen();
    logger.flush();
    return url;
  }

  link.tell({ op: 'hello' });

  // The primary died (or disconnected us): drain as on SIGTERM, then exit.
  channel.onClose(() => {
    if (gateway === undefined) process.exit(1);
    logger?.warn('primary process gone: draining and exiting');
    drain();
  });
}
