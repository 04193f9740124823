import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { LimitPolicy, MemoryStoreConfig, RedisStoreConfig } from '../../config/types.js';
import type { LimitDecision } from '../decision.js';
import { roundStep, type RawStep } from '../algorithms/token-bucket.js';
import type { Logger } from '../../observability/logging.js';
import { MemoryStore } from './memory.js';
import { OverLimitCache } from './over-limit-cache.js';
import { TAKE_TOKENS_LUA, bucketKey, type ScriptReply } from './redis-script.js';
import { DecisionBatcher } from './redis-batch.js';
import { monotonicClock, type Clock, type LimitStore, type StoreHealth } from './store.js';

/** `unavailable`: decided by on_error without asking, because Redis was known to be down. */
export type StoreErrorReason = 'timeout' | 'connection' | 'script' | 'other' | 'unavailable';

/** What the store tells the outside world (metrics); it logs state changes itself. */
export interface RedisStoreEvents {
  onError(reason: StoreErrorReason): void;
  onStateChange(up: boolean): void;
  onLocalDenial(): void;
}

type ScriptClient = (Redis | Cluster) & {
  /** Standalone: a batch, the key count first. */
  tgTakeTokens(numKeys: number, ...keysThenArgs: Array<string | number>): Promise<ScriptReply>;
  /** Cluster: one key, declared as such so ioredis routes the call to that key's slot. */
  tgTakeToken(key: string, rate: number, burst: number): Promise<ScriptReply>;
};

// How long a starting gateway waits for Redis before it listens anyway (on_error applies meanwhile).
const STARTUP_WAIT_MS = 1000;

// After this many timeouts in a row on a live connection, stop asking for a while.
const TIMEOUTS_BEFORE_SUSPEND = 3;
const SUSPEND_MS = 500;

/**
 * The distributed store: every instance shares one bucket per client in Redis,
 * so N gateways enforce the configured limit, not N times it.
 *
 * - Each decision is an atomic step of TAKE_TOKENS_LUA, run by EVALSHA
 *   (ioredis reloads the script on NOSCRIPT). Concurrent decisions are
 *   batched: those asked in one event-loop turn share one call
 *   (redis-batch.ts); on Redis Cluster, where one call must stay in one
 *   slot, each decision is its own call and ioredis auto-pipelines them.
 * - Clients Redis has refused are refused locally until their token is due
 *   (OverLimitCache), so a flood costs Redis almost nothing.
 * - A decision never waits longer than `timeout_ms`. When Redis cannot
 *   answer, `on_error` decides: `local` limits with this instance's memory
 *   store, `open` allows, `closed` refuses (503). Reconnection is automatic,
 *   with backoff capped at 1 s.
 */
export class RedisStore implements LimitStore {
  readonly #client: ScriptClient;
  readonly #batcher: DecisionBatcher;
  readonly #config: RedisStoreConfig;
  readonly #fallback: MemoryStore;
  readonly #cache = new OverLimitCache();
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #events: RedisStoreEvents;
  #up = false;
  #timeoutsInARow = 0;
  #readyWaiters: Array<() => void> = [];
  #suspendedUntil = 0;
  // Set while Redis is connected but not answering in time; logged once per episode.
  #unresponsive = false;
  #closed = false;

  constructor(
    config: RedisStoreConfig,
    options: { memory: MemoryStoreConfig; logger: Logger; events: RedisStoreEvents; clock?: Clock },
  ) {
    this.#config = config;
    this.#logger = options.logger;
    this.#events = options.events;
    this.#clock = options.clock ?? monotonicClock;
    this.#fallback = new MemoryStore(options.memory, { clock: this.#clock });
    this.#client = connect(config);
    // No numberOfKeys on the batch command: the key count is the first argument of each call.
    if (config.cluster) this.#client.defineCommand('tgTakeToken', { numberOfKeys: 1, lua: TAKE_TOKENS_LUA });
    else this.#client.defineCommand('tgTakeTokens', { lua: TAKE_TOKENS_LUA });
    this.#batcher = new DecisionBatcher((keys, args) => this.#sendBatch(keys, args), { maxBatch: config.cluster ? 1 : undefined });
    this.#client.on('ready', () => void this.#connectAll().then(() => this.#setUp(true)));
    this.#client.on('close', () => this.#setUp(false, 'connection closed'));
    // ioredis emits 'error' on every failed reconnect; the state change is logged once.
    this.#client.on('error', (err: Error) => this.#setUp(false, err.message));
    this.#events.onStateChange(false);
  }

  consume(policy: LimitPolicy, key: string): LimitDecision | Promise<LimitDecision> {
    const now = this.#clock();
    const cacheKey = `${policy.id}\u0000${key}`;
    const refused = this.#cache.get(cacheKey, now);
    if (refused !== undefined) {
      this.#events.onLocalDenial();
      return decide(policy, { allowed: false, tokensLeft: 0, msUntilFull: refused.msUntilFull, msUntilToken: refused.msUntilToken });
    }
    if (!this.#up || now < this.#suspendedUntil) {
      this.#events.onError('unavailable');
      return this.#withoutRedis(policy, key);
    }
    return this.#batcher.take(bucketKey(this.#config.keyPrefix, policy.id, key), policy.rate, policy.burst).then(
      (raw) => {
        if (!raw.allowed) this.#cache.remember(cacheKey, this.#clock(), raw.msUntilToken, raw.msUntilFull);
        return decide(policy, raw);
      },
      (err: Error) => {
        this.#events.onError(classify(err));
        return this.#withoutRedis(policy, key);
      },
    );
  }

  /** One script call for a batch; its outcome feeds the responsiveness state once per call, not per decision. */
  #sendBatch(keys: string[], args: number[]): Promise<ScriptReply> {
    const call = this.#config.cluster
      ? this.#client.tgTakeToken(keys[0] as string, args[0] as number, args[1] as number)
      : this.#client.tgTakeTokens(keys.length, ...keys, ...args);
    return call.then(
      (reply) => {
        this.#timeoutsInARow = 0;
        if (this.#unresponsive) this.#setResponsive(true);
        return reply;
      },
      (err: Error) => {
        this.#callFailed(err);
        throw err;
      },
    );
  }

  size(): number {
    return this.#fallback.size() + this.#cache.size;
  }

  whenReady(): Promise<void> {
    if (this.#up) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, STARTUP_WAIT_MS);
      this.#readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  health(): StoreHealth {
    if (this.#up && !this.#unresponsive) return 'ok';
    return this.#config.onError === 'closed' ? 'down' : 'degraded';
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cache.clear();
    await this.#fallback.close();
    await Promise.race([this.#client.quit().catch(() => {}), new Promise((r) => setTimeout(r, 500).unref())]);
    this.#client.disconnect();
  }

  /**
   * A Cluster client opens its socket to each master lazily, on the first
   * command, and without an offline queue that command fails: open them all
   * before declaring the store up.
   */
  async #connectAll(): Promise<void> {
    const client = this.#client;
    if (!(client instanceof Cluster)) return;
    const masters = client.nodes('master');
    await Promise.race([
      Promise.all(masters.map((node) => node.ping().catch(() => {}))),
      new Promise((r) => setTimeout(r, STARTUP_WAIT_MS).unref()),
    ]);
  }

  #withoutRedis(policy: LimitPolicy, key: string): LimitDecision {
    switch (this.#config.onError) {
      case 'local':
        return this.#fallback.consume(policy, key);
      case 'open':
        return { allowed: true, policy, remaining: 0, resetSeconds: 0, retryAfterSeconds: 0, reason: 'store_unavailable' };
      case 'closed':
        return { allowed: false, policy, remaining: 0, resetSeconds: 0, retryAfterSeconds: 1, reason: 'store_unavailable' };
    }
  }

  #callFailed(err: Error): void {
    if (classify(err) !== 'timeout') return;
    if (++this.#timeoutsInARow >= TIMEOUTS_BEFORE_SUSPEND) {
      this.#timeoutsInARow = 0;
      this.#suspendedUntil = this.#clock() + SUSPEND_MS;
      if (!this.#unresponsive) this.#setResponsive(false);
    }
  }

  /** Connected but silent (a partition, a stalled server) and back: one line each way. */
  #setResponsive(responsive: boolean): void {
    this.#unresponsive = !responsive;
    this.#events.onStateChange(responsive);
    if (responsive) this.#logger.info({ store: 'redis' }, 'store: redis answering again, limits are shared');
    else this.#logger.warn({ store: 'redis', on_error: this.#config.onError, timeout_ms: this.#config.timeoutMs }, 'store: redis is not answering in time');
  }

  #setUp(up: boolean, why?: string): void {
    if (this.#up === up || this.#closed) return;
    this.#up = up;
    this.#events.onStateChange(up);
    if (up) {
      this.#suspendedUntil = 0;
      this.#unresponsive = false;
      for (const wake of this.#readyWaiters.splice(0)) wake();
      this.#logger.info({ store: 'redis' }, 'store: redis connected, limits are shared');
    } else {
      this.#logger.warn({ store: 'redis', on_error: this.#config.onError, reason: why }, 'store: redis unavailable');
    }
  }
}

// Built field by field in the memory store's order: one object shape for every decision keeps header writing monomorphic.
function decide(policy: LimitPolicy, raw: RawStep): LimitDecision {
  const step = roundStep(raw);
  return { allowed: step.allowed, policy, remaining: step.remaining, resetSeconds: step.resetSeconds, retryAfterSeconds: step.retryAfterSeconds };
}

function classify(err: Error): StoreErrorReason {
  const m = err.message;
  if (/timed out/i.test(m)) return 'timeout';
  if (/writeable|closed|ECONNREFUSED|ECONNRESET|isn't ready|connect/i.test(m)) return 'connection';
  if (err.name === 'ReplyError') return 'script';
  return 'other';
}

/** Reconnect backoff: 100 ms doubling per attempt, at most 1 s. */
function reconnectDelay(attempt: number): number {
  return Math.min(50 * 2 ** Math.min(attempt, 5), 1000);
}

function connect(config: RedisStoreConfig): ScriptClient {
  const common: RedisOptions = {
    commandTimeout: config.timeoutMs,
    connectTimeout: Math.max(1000, config.timeoutMs),
    // Fail fast while disconnected instead of queueing: a decision never waits for a reconnect.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    // A standalone client gets one call per batch already (redis-batch.ts); a Pipeline per call would only add cost.
    enableAutoPipelining: false,
    retryStrategy: reconnectDelay,
  };
  if (!config.cluster) return new Redis(config.urls[0] as string, common) as ScriptClient;
  const nodes: ClusterNode[] = config.urls.map((u) => {
    const url = new URL(u);
    return { host: url.hostname, port: Number(url.port || 6379) };
  });
  const first = new URL(config.urls[0] as string);
  return new Cluster(nodes, {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    clusterRetryStrategy: reconnectDelay,
    redisOptions: {
      ...common,
      username: first.username || undefined,
      password: first.password ? decodeURIComponent(first.password) : undefined,
      tls: first.protocol === 'rediss:' ? {} : undefined,
    },
  }) as ScriptClient;
}
