import type { GatewayConfig } from '../../config/types.js';
import type { Logger } from '../../observability/logging.js';
import { MemoryStore } from './memory.js';
import { RedisStore, type RedisStoreEvents } from './redis.js';
import type { LimitStore } from './store.js';

/** The store config.store names. */
export function createStore(config: GatewayConfig, logger: Logger, events: RedisStoreEvents): LimitStore {
  const { type, memory, redis } = config.store;
  if (type === 'redis' && redis) return new RedisStore(redis, { memory, logger, events });
  return new MemoryStore(memory);
}
