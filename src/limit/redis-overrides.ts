import { Cluster, Redis } from 'ioredis';
import type { RedisStoreConfig } from '../config/types.js';
import type { Logger } from '../observability/logging.js';
import { OverrideTable, type ActiveOverride, type Override, type Overrides } from './overrides.js';
import type { Clock } from './stores/store.js';
import { RecentLabels } from './recent-labels.js';

// Every instance re-reads the overrides this often: an override set anywhere binds everywhere within it.
const SYNC_MS = 500;
const STARTUP_WAIT_MS = 1000;

/**
 * Overrides shared through Redis: one hash, `<prefix>overrides`, field = the
 * client's label, value = the override as JSON (expiry as an epoch instant, so
 * every instance and a restarted one agree on it). The request path reads the
 * local table only; a poll every 500 ms refreshes it, and a change made
 * through this instance applies here at once. A Redis that cannot be read
 * leaves the last table in force (logged once per episode), so an outage
 * never lifts a block.
 */
export class RedisOverrides implements Overrides {
  readonly #client: Redis | Cluster;
  readonly #table: OverrideTable;
  readonly #key: string;
  readonly #logger: Logger;
  readonly #timer: NodeJS.Timeout;
  readonly recent = new RecentLabels();
  #failing = false;
  #synced = false;
  readonly #firstSync: Promise<void>;
  #markSynced: () => void = () => {};

  constructor(config: RedisStoreConfig, logger: Logger, clock: Clock) {
    this.#table = new OverrideTable(clock);
    this.#firstSync = new Promise((resolve) => (this.#markSynced = resolve));
    this.#key = `${config.keyPrefix}overrides`;
    this.#logger = logger;
    const options = { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: Math.max(1000, config.timeoutMs), retryStrategy: () => 1000, lazyConnect: false };
    this.#client = config.cluster
      ? new Cluster(config.urls.map((u) => ({ host: new URL(u).hostname, port: Number(new URL(u).port || 6379) })), { enableOfflineQueue: false, redisOptions: options })
      : new Redis(config.urls[0] as string, options);
    this.#client.on('error', () => {}); // the sync reports failures; ioredis would otherwise print each reconnect
    this.#client.on('ready', () => void this.sync());
    this.#timer = setInterval(() => void this.sync(), SYNC_MS);
    this.#timer.unref();
  }

  get(key: string): ActiveOverride | undefined {
    return this.#table.get(key);
  }

  async set(key: string, override: Override): Promise<void> {
    await this.#client.hset(this.#key, key, JSON.stringify(override));
    this.#table.put(key, override);
  }

  async delete(key: string): Promise<boolean> {
    const removed = await this.#client.hdel(this.#key, key);
    this.#table.delete(key);
    return removed > 0;
  }

  /** Reads every override; drops the expired ones from Redis as it goes. Public for tests. */
  async sync(): Promise<void> {
    let raw: Record<string, string>;
    try {
      raw = await this.#client.hgetall(this.#key);
    } catch (err) {
      if (!this.#failing) this.#logger.warn({ err: (err as Error).message }, 'overrides: cannot read from redis, keeping the last ones');
      this.#failing = true;
      return;
    }
    if (this.#failing) this.#logger.info('overrides: reading from redis again');
    this.#failing = false;
    const next = new Map<string, Override>();
    const expired: string[] = [];
    for (const [key, value] of Object.entries(raw)) {
      const override = parse(value);
      if (override === undefined) continue;
      if (override.expiresAt !== null && override.expiresAt <= Date.now()) expired.push(key);
      else next.set(key, override);
    }
    this.#table.replaceAll(next);
    if (!this.#synced) {
      this.#synced = true;
      this.#markSynced();
    }
    if (expired.length > 0) await this.#client.hdel(this.#key, ...expired).catch(() => {});
  }

  /**
   * A starting instance must not serve before it knows the blocks in force (a
   * blocked client would get through its first requests): listen() waits for
   * the first read, at most STARTUP_WAIT_MS; a Redis still down then is logged,
   * and overrides apply from the first read that succeeds.
   */
  whenReady(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return Promise.race([
      this.#firstSync,
      new Promise<void>((resolve) =>
        setTimeout(() => {
          if (!this.#synced) this.#logger.warn('overrides: not read from redis yet; serving, overrides apply once they are');
          resolve();
        }, STARTUP_WAIT_MS).unref(),
      ),
    ]);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await Promise.race([this.#client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 500).unref())]);
    this.#client.disconnect();
  }
}

function parse(value: string): Override | undefined {
  try {
    const o = JSON.parse(value) as Override;
    if (o.kind === 'block' || (o.kind === 'limit' && o.requestsPerSecond > 0 && o.burst >= 1)) return o;
  } catch {
    // Another writer's garbage is not an override.
  }
  return undefined;
}
