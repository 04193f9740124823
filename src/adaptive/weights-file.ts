import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeWeights, encodeWeights, type StoredWeights, type WeightsStore } from './weights-store.js';

/**
 * Learned weights in one file (`adaptive.weights_file`, the memory store's
 * way to keep learning across restarts). A save writes a temporary file in
 * the same directory, fsyncs it and renames it over the old one: rename is
 * atomic within a file system, so a reader (or a crash) sees the old file
 * or the new one, never half of one.
 *
 * The compare-and-set reads the file's version, then renames: two steps,
 * not atomic between processes. That is enough here because one process
 * learns: labels arrive through the admin API, which only a single-process
 * gateway or a cluster's primary serves, and a cluster's workers (which
 * hold the engines) only read. Within the process, saves are serialised.
 */
export class FileWeightsStore implements WeightsStore {
  readonly #path: string;
  // Saves one after another: a second compare-and-set must read what the first wrote.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  get path(): string {
    return this.#path;
  }

  /** The stored weights; undefined when the file does not exist. Rejects when it cannot be read or is not weights for this build. */
  async load(): Promise<StoredWeights | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    return decodeWeights(text, this.#path);
  }

  saveIf(expectedVersion: string | undefined, next: StoredWeights): Promise<boolean> {
    const run = this.#queue.then(async () => {
      if ((await this.load())?.version !== expectedVersion) return false;
      await this.#write(encodeWeights(next));
      return true;
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async close(): Promise<void> {
    await this.#queue;
  }

  async #write(text: string): Promise<void> {
    // Hidden, unique per write: never mistaken for the weights file, never shared by two writers.
    const tmp = join(dirname(this.#path), `.${basename(this.#path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      const file = await open(tmp, 'wx', 0o644);
      try {
        await file.writeFile(text, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      await rename(tmp, this.#path);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    // The rename itself survives a power cut only once the directory is synced (best effort: not every platform can open one).
    const dir = await open(dirname(this.#path), 'r').catch(() => undefined);
    await dir?.sync().catch(() => {});
    await dir?.close();
  }
}
