import { createHash } from 'node:crypto';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from '../observability/logging.js';
import type { GatewayMetrics } from '../observability/metrics.js';

/** Settings a running gateway cannot change without a restart, by config path, when `next` changes them. */
export function restartOnlyChanges(live: GatewayConfig, next: GatewayConfig): string[] {
  const changed: string[] = [];
  if (live.server.host !== next.server.host) changed.push('server.host');
  if (live.server.port !== next.server.port) changed.push('server.port');
  if (live.server.maxHeaderBytes !== next.server.maxHeaderBytes) changed.push('server.max_header_bytes');
  if (live.server.workers !== next.server.workers) changed.push('server.workers');
  if (JSON.stringify(live.store) !== JSON.stringify(next.store)) changed.push('store');
  // The key store's connection and its mirror of the keys are made once, at start.
  if (JSON.stringify(live.keyStore) !== JSON.stringify(next.keyStore)) changed.push('key_store');
  // Tokens are read live; the admin listener itself (on or off, where) needs a restart.
  const where = (c: GatewayConfig) => (c.admin === null ? 'off' : `${c.admin.host}:${c.admin.port}:${c.admin.exposeMetrics}:${c.admin.dashboard}`);
  if (where(live) !== where(next)) changed.push('admin');
  // The weights store is chosen once, when adaptive protection first starts.
  if ((live.adaptive?.weightsFile ?? null) !== (next.adaptive?.weightsFile ?? null)) changed.push('adaptive.weights_file');
  return changed;
}

/** The `hash` label of throttlegate_config_info: a sha256 prefix of the resolved config. */
export function configHash(config: GatewayConfig): string {
  return createHash('sha256').update(JSON.stringify({ ...config, file: undefined })).digest('hex').slice(0, 12);
}

export interface Reloadable {
  readonly config: GatewayConfig;
  reload(config: GatewayConfig): Promise<{ ignored: string[] }>;
}

/**
 * Reloads `file` into `gateway`: parse, validate, build the new app, swap.
 * An invalid file changes nothing: the running config keeps serving, the
 * error (file, field paths) is logged and counted. Reloads run one at a time,
 * in order, so two quick edits cannot race.
 */
export function createReloader(
  file: string,
  gateway: Reloadable,
  logger: Logger,
  metrics: GatewayMetrics,
  env: NodeJS.ProcessEnv = process.env,
  // The primary of a gateway with workers reads the text itself, to send what it validated (cluster/primary.ts).
  load: (file: string, env: NodeJS.ProcessEnv) => GatewayConfig = loadConfig,
) {
  let queue: Promise<unknown> = Promise.resolve();
  const reloadOnce = async (trigger: string): Promise<boolean> => {
    let next: GatewayConfig;
    try {
      next = load(file, env);
    } catch (err) {
      metrics.countConfigReload('error', (err as Error).message);
      if (err instanceof ConfigError) {
        logger.error({ trigger, file, problems: err.problems }, `config reload failed, keeping the running config: ${err.message}`);
      } else {
        logger.error({ trigger, file, err }, 'config reload failed, keeping the running config');
      }
      return false;
    }
    try {
      const { ignored } = await gateway.reload(next);
      metrics.countConfigReload('ok');
      logger.info({ trigger, file, hash: configHash(next), routes: next.routes.length }, 'config reloaded');
      if (ignored.length > 0) logger.warn({ fields: ignored }, `config reload: ${ignored.join(', ')} changed but need a restart to take effect`);
      return true;
    } catch (err) {
      metrics.countConfigReload('error', (err as Error).message);
      logger.error({ trigger, file, err }, 'config reload failed, keeping the running config');
      return false;
    }
  };
  return (trigger: string): Promise<boolean> => {
    const run = queue.then(() => reloadOnce(trigger));
    queue = run;
    return run;
  };
}
