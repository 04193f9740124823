import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
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
  if (JSON.stringify(live.store) !== JSON.stringify(next.store)) changed.push('store');
  // Tokens are read live; the admin listener itself (on or off, where) needs a restart.
  const where = (c: GatewayConfig) => (c.admin === null ? 'off' : `${c.admin.host}:${c.admin.port}:${c.admin.exposeMetrics}`);
  if (where(live) !== where(next)) changed.push('admin');
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
export function createReloader(file: string, gateway: Reloadable, logger: Logger, metrics: GatewayMetrics, env: NodeJS.ProcessEnv = process.env) {
  let queue: Promise<unknown> = Promise.resolve();
  const reloadOnce = async (trigger: string): Promise<boolean> => {
    let next: GatewayConfig;
    try {
      next = loadConfig(file, env);
    } catch (err) {
      metrics.countConfigReload('error');
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
      metrics.countConfigReload('error');
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

/**
 * Calls `onChange` once the config file's content has changed and the
 * directory has been quiet for `debounceMs`. Watches the directory, not the
 * file: editors replace files by rename, and a Kubernetes ConfigMap volume
 * swaps a `..data` symlink, so the event may name another entry or none.
 * Every event is therefore a reason to look, and the content (not the event)
 * decides: an unchanged file reloads nothing.
 */
export function watchConfigFile(file: string, onChange: () => void, debounceMs = 200): () => void {
  const path = resolve(file);
  const fingerprint = (): string => {
    try {
      return createHash('sha256').update(readFileSync(path)).digest('hex');
    } catch {
      return 'unreadable'; // a file mid-replacement: the next event looks again
    }
  };
  let seen = fingerprint();
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(path), () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const now = fingerprint();
        if (now === seen || now === 'unreadable') return;
        seen = now;
        onChange();
      }, debounceMs);
    });
    watcher.on('error', () => watcher?.close());
    watcher.unref();
  } catch {
    // No watch support here (some network filesystems): SIGHUP still reloads.
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
