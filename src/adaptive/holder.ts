import type { Registry } from 'prom-client';
import type { AdaptiveConfig } from './config.js';
import { AdaptiveEngine } from './engine.js';
import { RiskModel } from './model.js';
import { loadShippedWeights } from './weights.js';
import { AdaptiveMetrics } from './metrics.js';

/**
 * The one AdaptiveEngine a gateway keeps across reloads: created by the
 * first config with an `adaptive:` block (loading the shipped weights),
 * reconfigured by later ones. A config without the block turns it off for
 * its requests; the features learned so far are kept for a reload that
 * turns it back on.
 */
export class AdaptiveHolder {
  #engine: AdaptiveEngine | null = null;
  #metrics: AdaptiveMetrics | null = null;
  readonly #registry: Registry;

  constructor(registry: Registry) {
    this.#registry = registry;
  }

  /** The engine for requests under `config`, or null when it is off. Throws when the shipped weights cannot be read. */
  engineFor(config: AdaptiveConfig | null): AdaptiveEngine | null {
    if (config === null) return null;
    if (this.#engine === null) {
      const engine = new AdaptiveEngine(config, new RiskModel(loadShippedWeights()));
      this.#engine = engine;
      this.#metrics = new AdaptiveMetrics(this.#registry, () => engine.bandCounts());
    } else this.#engine.configure(config);
    return this.#engine;
  }

  get metrics(): AdaptiveMetrics | null {
    return this.#metrics;
  }
}
