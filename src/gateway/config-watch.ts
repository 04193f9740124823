import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../observability/logging.js';

// A Kubernetes ConfigMap volume swaps this symlink (a rename onto it) to publish a new version.
const CONFIGMAP_LINK = '..data';

/**
 * Whether a directory event can concern the config file: its own name (an
 * in-place write, or a rename onto it by an editor or config management), the
 * ConfigMap link, or an event that names no file. Anything else in the
 * directory (the gateway's own log written beside its config) is not: it
 * must never hold back a reload.
 */
export function concernsConfig(configName: string, filename: string | Buffer | null | undefined): boolean {
  if (filename === null || filename === undefined) return true;
  const name = filename.toString();
  return name === configName || name === CONFIGMAP_LINK;
}

/**
 * Calls `onChange` once the config file's content has changed and no event
 * concerning it has come for `debounceMs`. Watches the directory, not the
 * file: editors replace files by rename, and a ConfigMap swaps a link, so
 * the file's own inode is not what to watch. The content (not the event)
 * decides: an unchanged file reloads nothing. When watching cannot start or
 * fails later (inotify limits, a filesystem without watch support), one warn
 * line says so: SIGHUP still reloads.
 */
export function watchConfigFile(file: string, onChange: () => void, logger: Logger, debounceMs = 200): () => void {
  const path = resolve(file);
  const name = basename(path);
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
  const unwatched = (err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    logger.warn({ file: path, code }, `config file watch is off (${code}): saving the file reloads nothing; send SIGHUP to reload`);
  };
  try {
    watcher = watch(dirname(path), (_event, filename) => {
      if (!concernsConfig(name, filename)) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        const now = fingerprint();
        if (now === seen || now === 'unreadable') return;
        seen = now;
        onChange();
      }, debounceMs);
    });
    watcher.on('error', (err) => {
      watcher?.close();
      unwatched(err);
    });
    watcher.unref();
  } catch (err) {
    unwatched(err);
  }
  return () => {
    clearTimeout(timer);
    watcher?.close();
  };
}
