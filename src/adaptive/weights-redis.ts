import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Cluster, Redis } from 'ioredis';
import type { RedisStoreConfig } from '../config/types.js';
import { decodeWeights, encodeWeights, type StoredWeights, type WeightsStore } from './weights-store.js';

/**
 * Compare-and-set of one base version's learned weights: stores ARGV[3]
 * under field ARGV[1] only when the version of what the field holds is
 * ARGV[2] ('' = the field is absent). Something there that is not JSON with
 * a string version matches nothing: it is never overwritten unseen.
 */
const SAVE_IF_LUA = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local have = ''
if cur then
  local ok, doc = pcall(cjson.decode, cur)
  if ok and type(doc) == 'table' and type(doc.version) == 'string' and doc.version ~= '' then have = doc.version else return -1 end
end
if have ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`;
const SAVE_IF_SHA = createHash('sha1').update(SAVE_IF_LUA).digest('hex');

/**
 * Learned weights on Redis: one hash, `<prefix>adaptive:weights`, one field
 * per shipped model version (the base of `<base>+<n>`), holding the weights
 * JSON (weights-store.ts). A field per base lets instances of two releases
 * share a Redis during a rolling upgrade, each learning its own model, and a
 * new model starts from its shipped weights by construction. Saves are one
 * atomic script (EVALSHA, EVAL when the server lost it). The client options
 * are the overrides' (redis-overrides.ts): no offline queue, no retries, so
 * a Redis that is down fails a call at once and nothing waits on it.
 */
export class RedisWeightsStore implements WeightsStore {
  readonly #client: Redis | Cluster;
  readonly #key: string;
  readonly #field: string;
  readonly #timeoutMs: number;

  constructor(config: RedisStoreConfig, base: string) {
    this.#key = `${config.keyPrefix}adaptive:weights`;
    this.#field = base;
    this.#timeoutMs = Math.max(1000, config.timeoutMs);
    const options = { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: this.#timeoutMs, retryStrategy: () => 1000, lazyConnect: false };
    this.#client = config.cluster
      ? new Cluster(config.urls.map((u) => ({ host: new URL(u).hostname, port: Number(new URL(u).port || 6379) })), { enableOfflineQueue: false, redisOptions: options })
      : new Redis(config.urls[0] as string, options);
    this.#client.on('error', () => {}); // the caller reports failures once per episode; ioredis would print each reconnect
  }

  /** The key and field weights are stored under (for logs and operators). */
  get location(): string {
    return `${this.#key} ${this.#field}`;
  }

  async load(): Promise<StoredWeights | undefined> {
    await this.#connected();
    const text = await this.#client.hget(this.#key, this.#field);
    return text === null ? undefined : decodeWeights(text, `redis ${this.location}`);
  }

  async saveIf(expectedVersion: string | undefined, next: StoredWeights): Promise<boolean> {
    await this.#connected();
    const args = [this.#field, expectedVersion ?? '', encodeWeights(next)];
    const saved = await this.#client.evalsha(SAVE_IF_SHA, 1, this.#key, ...args).catch((err: Error) => {
      if (!err.message.includes('NOSCRIPT')) throw err;
      return this.#client.eval(SAVE_IF_LUA, 1, this.#key, ...args);
    });
    if (saved === -1) throw new Error(`redis ${this.location}: holds something that is not weights; delete the field to let learning overwrite it`);
    return saved === 1;
  }

  async close(): Promise<void> {
    await Promise.race([this.#client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 500).unref())]);
    this.#client.disconnect();
  }

  /** A call made while the first connection is being set up waits for it (at most the command timeout) instead of failing at once. */
  async #connected(): Promise<void> {
    const status = this.#client.status;
    if (status !== 'connecting' && status !== 'connect' && status !== 'wait') return;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    await once(this.#client, 'ready', { signal: timeout }).catch(() => {});
  }
}
