import type { Registry } from 'prom-client';
import { resolve } from 'node:path';
import type { RedisStoreConfig } from '../config/types.js';
import type { AdaptiveConfig } from './config.js';
import { AdaptiveEngine } from './engine.js';
import { RiskModel } from './model.js';
import { loadShippedWeights } from './weights.js';
import { AdaptiveMetrics } from './metrics.js';
import { baseVersion } from './weights-store.js';
import { RedisWeightsStore } from './weights-redis.js';
import { FileWeightsStore } from './weights-file.js';
import { SharedWeights, type SharedWeightsOptions, type SyncLogger } from './weights-sync.js';

/** Where learned weights are kept (decided once, at engine creation). */
export interface WeightsPlace {
  /** The limit store's Redis: weights are shared there (wins over a weights_file). */
  readonly redis?: RedisStoreConfig;
  /** What a relative `adaptive.weights_file` is resolved against: the config file's directory. */
  readonly baseDir?: string;
  readonly logger?: SyncLogger;
  /** Poll and startup wait (tests shorten them). */
  readonly sync?: SharedWeightsOptions;
}

/**
 * The one AdaptiveEngine a gateway keeps across reloads: created by the
 * first config with an `adaptive:` block (loading the shipped weights, then
 * the learned ones from the weights store when one is configured: the
 * store's Redis, else `adaptive.weights_file`), reconfigured by later ones.
 * A config without the block turns it off for its requests; the features
 * learned so far are kept for a reload that turns it back on. The weights
 * store is chosen once, with the engine (restart to change it).
 */
export class AdaptiveHolder {
  #engine: AdaptiveEngine | null = null;
  #metrics: AdaptiveMetrics | null = null;
  #shared: SharedWeights | null = null;
  readonly #registry: Registry;
  readonly #place: WeightsPlace;

  constructor(registry: Registry, place: WeightsPlace = {}) {
    this.#registry = registry;
    this.#place = place;
  }

  /** The engine for requests under `config`, or null when it is off. Throws when the shipped weights cannot be read. */
  engineFor(config: AdaptiveConfig | null): AdaptiveEngine | null {
    if (config === null) return null;
    if (this.#engine === null) {
      const shipped = loadShippedWeights();
      const engine = new AdaptiveEngine(config, new RiskModel(shipped));
      this.#engine = engine;
      this.#metrics = new AdaptiveMetrics(this.#registry, () => engine.bandCounts());
      this.#shared = this.#sharedFor(config, baseVersion(shipped.version));
      if (this.#shared !== null) engine.share(this.#shared);
    } else this.#engine.configure(config);
    return this.#engine;
  }

  /** The engine, once a config has turned adaptive protection on (kept while a later one turns it off); null before. Reading it configures nothing. */
  get engine(): AdaptiveEngine | null {
    return this.#engine;
  }

  get metrics(): AdaptiveMetrics | null {
    return this.#metrics;
  }

  /** Resolves once the learned weights were first read (at most a second; at once with no weights store): listen() waits on it. */
  whenReady(): Promise<void> {
    return this.#shared?.whenReady() ?? Promise.resolve();
  }

  /** Stops the weights poll and closes the weights store's connection. */
  async close(): Promise<void> {
    await this.#shared?.close();
  }

  #sharedFor(config: AdaptiveConfig, base: string): SharedWeights | null {
    const { redis, baseDir = process.cwd(), logger = SILENT, sync } = this.#place;
    if (redis !== undefined) {
      const store = new RedisWeightsStore(redis, base);
      return new SharedWeights(store, base, logger, `redis ${store.location}`, sync);
    }
    if (config.weightsFile === null) return null;
    const store = new FileWeightsStore(resolve(baseDir, config.weightsFile));
    return new SharedWeights(store, base, logger, store.path, sync);
  }
}

const SILENT: SyncLogger = { info: () => {}, warn: () => {} };
