import { baseVersion, WeightsStoreError, type StoredWeights, type WeightsStore } from './weights-store.js';

// Every instance re-reads the stored weights this often: a label learned anywhere scores everywhere within it.
const POLL_MS = 1000;
const STARTUP_WAIT_MS = 1000;
// A lost compare-and-set is retried from the newer weights this many times before the label is refused.
const RETRIES = 3;

export interface SyncLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
}

export interface SharedWeightsOptions {
  readonly pollMs?: number;
  readonly startupWaitMs?: number;
}

/**
 * One engine's link to its weights store: a poll every second that hands
 * the engine any stored version other than its own (so instances converge
 * on the shared weights), and learning as compare-and-set on the stored
 * version, retried from the newer weights when another instance saved
 * first. Stored weights learned from another shipped model are not used
 * (a newer shipped model replaces old learning; logged once per version).
 * The request path never waits on any of it: the engine swaps its model in
 * one assignment. A store that cannot be read keeps the weights in use,
 * logged once per episode.
 */
export class SharedWeights {
  readonly #store: WeightsStore;
  readonly #base: string;
  readonly #logger: SyncLogger;
  readonly #where: string;
  readonly #pollMs: number;
  readonly #startupWaitMs: number;
  #adopt: (weights: StoredWeights) => void = () => {};
  #timer: NodeJS.Timeout | undefined;
  // Counts this instance's saves: a read begun before one is older than what the engine holds.
  #generation = 0;
  #failing = false;
  #closed = false;
  #mismatch: string | undefined;
  #loaded = false;
  #markLoaded: () => void = () => {};
  readonly #firstLoad = new Promise<void>((resolve) => (this.#markLoaded = resolve));

  /** `base`: the shipped model's version; `where`: the store as logs name it. */
  constructor(store: WeightsStore, base: string, logger: SyncLogger, where: string, options: SharedWeightsOptions = {}) {
    this.#store = store;
    this.#base = base;
    this.#logger = logger;
    this.#where = where;
    this.#pollMs = options.pollMs ?? POLL_MS;
    this.#startupWaitMs = options.startupWaitMs ?? STARTUP_WAIT_MS;
  }

  /** Reads the store now and every poll interval, handing `adopt` each usable stored weights read. */
  start(adopt: (weights: StoredWeights) => void): void {
    this.#adopt = adopt;
    void this.poll();
    this.#timer = setInterval(() => void this.poll(), this.#pollMs);
    this.#timer.unref();
  }

  /** One read of the store (public for tests). */
  async poll(): Promise<void> {
    const generation = this.#generation;
    let stored: StoredWeights | undefined;
    try {
      stored = await this.#store.load();
    } catch (err) {
      if (!this.#failing && !this.#closed) this.#logger.warn({ err: (err as Error).message, store: this.#where }, 'adaptive: cannot read the learned weights, keeping the ones in use');
      this.#failing = true;
      return;
    }
    if (this.#failing) this.#logger.info({ store: this.#where }, 'adaptive: reading the learned weights again');
    this.#failing = false;
    const usable = this.#usable(stored);
    if (!this.#loaded) {
      this.#logger.info({ store: this.#where, weights_version: usable?.version ?? null }, usable === undefined ? 'adaptive: no learned weights stored, scoring with the shipped ones' : 'adaptive: scoring with the learned weights stored');
    }
    if (usable !== undefined && generation === this.#generation && !this.#closed) this.#adopt(usable);
    if (!this.#loaded) {
      this.#loaded = true;
      this.#markLoaded();
    }
  }

  /**
   * Learns through the store: `step` makes the next weights from the stored
   * ones (undefined: none usable, the engine's own are the start), saved if
   * nobody saved in between, else again from the newer ones, RETRIES times.
   * Resolves to the weights saved; rejects with WeightsStoreError when the
   * store fails or other writers keep winning (nothing was learned then).
   */
  async update(step: (stored: StoredWeights | undefined) => StoredWeights): Promise<StoredWeights> {
    for (let attempt = 0; attempt <= RETRIES; attempt++) {
      const stored = await this.#call(() => this.#store.load());
      const next = step(this.#usable(stored));
      if (await this.#call(() => this.#store.saveIf(stored?.version, next))) {
        this.#generation++;
        return next;
      }
    }
    throw new WeightsStoreError(`adaptive: other instances saved the weights first ${RETRIES + 1} times in a row (${this.#where}); the label was not learned`);
  }

  /**
   * A starting gateway scores with what was learned from its first request:
   * listen() waits for the first read, at most startupWaitMs; a store still
   * unreadable then is logged, and the shipped weights serve until a read succeeds.
   */
  whenReady(): Promise<void> {
    if (this.#loaded) return Promise.resolve();
    return Promise.race([
      this.#firstLoad,
      new Promise<void>((resolve) =>
        setTimeout(() => {
          if (!this.#loaded) this.#logger.warn({ store: this.#where }, 'adaptive: learned weights not read yet; scoring with the shipped ones until they are');
          resolve();
        }, this.#startupWaitMs).unref(),
      ),
    ]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#store.close();
  }

  async #call<T>(op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      throw new WeightsStoreError(`adaptive: the learned weights cannot be read or saved (${this.#where}): ${(err as Error).message}`, { cause: err });
    }
  }

  /** Stored weights learned from this build's shipped model, else undefined (logged once per stored version). */
  #usable(stored: StoredWeights | undefined): StoredWeights | undefined {
    if (stored === undefined || baseVersion(stored.version) === this.#base) return stored;
    if (this.#mismatch !== stored.version) {
      this.#mismatch = stored.version;
      this.#logger.warn(
        { store: this.#where, stored_version: stored.version, shipped_version: this.#base },
        'adaptive: the stored weights were learned from another shipped model; scoring with the shipped ones (a newer shipped model replaces old learning: the next label learned overwrites them)',
      );
    }
    return undefined;
  }
}
