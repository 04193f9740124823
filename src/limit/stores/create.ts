import type { GatewayConfig } from '../../config/types.js';
import type { Logger } from '../../observability/logging.js';
import { capacityReporter } from './capacity-report.js';
import { MemoryStore } from './memory.js';
import { RedisStore, type RedisStoreEvents } from './redis.js';
import type { LimitStore } from './store.js';

/** What the stores report into (GatewayMetrics.storeEvents). */
export interface StoreEvents extends RedisStoreEvents {
  onCapacityRefusal(): void;
}

/** The store config.store names. */
export function createStore(config: GatewayConfig, logger: Logger, events: StoreEvents): LimitStore {
  const { type, memory, redis } = config.store;
  // Redis's local fallback is a memory store too, with the same cap.
  const onCapacityRefusal = capacityReporter(logger, events.onCapacityRefusal, memory.maxKeys);
  if (type === 'redis' && redis) return new RedisStore(redis, { memory, logger, events, onCapacityRefusal });
  return new MemoryStore(memory, { onCapacityRefusal });
}
