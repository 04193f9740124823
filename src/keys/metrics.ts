import { Gauge, Histogram, type Registry } from 'prom-client';
import { KEY_STATES, type KeyTable } from './table.js';

/** The key store's metrics, registered only when key_store is postgres. */
export interface KeyStoreMetrics {
  setUp(up: boolean): void;
  observeSync(seconds: number): void;
}

export function keyStoreMetrics(registry: Registry, table: KeyTable, now: () => number = Date.now): KeyStoreMetrics {
  // Each worker holds a full copy of the table: across workers the same keys, so the largest count, not the sum.
  new Gauge({
    name: 'throttlegate_api_keys',
    help: 'API keys this instance holds from the key store, by state (active, disabled, expired, revoked).',
    labelNames: ['state'],
    registers: [registry],
    aggregator: 'max',
    collect() {
      const counts = table.countByState(now());
      for (const state of KEY_STATES) this.set({ state }, counts[state]);
    },
  });
  const up = new Gauge({
    name: 'throttlegate_key_store_up',
    help: 'Whether the key store (PostgreSQL) is reachable and this instance listens for its changes (1) or serves the keys it has (0).',
    registers: [registry],
    aggregator: 'min',
  });
  up.set(0);
  const sync = new Histogram({
    name: 'throttlegate_key_store_sync_seconds',
    help: 'Time a full load of the key store into memory took (at start, on reconnect and at every resync_interval).',
    buckets: [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [registry],
  });
  return {
    setUp: (value) => up.set(value ? 1 : 0),
    observeSync: (seconds) => sync.observe(seconds),
  };
}
