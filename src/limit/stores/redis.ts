import { createHash, randomBytes } from 'node:crypto';
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import type { MemoryStoreConfig, RedisStoreConfig } from '../../config/types.js';
import type { LimitSpec } from '../algorithms/types.js';
import type { Logger } from '../../observability/logging.js';
import { MemoryStore } from './memory.js';
import { OverLimitCache } from './over-limit-cache.js';
import { CHECK_LUA, checkKeys, encodeCheck, encodeRefund, encodeStamped, parseSteps, type ScriptReply } from './redis-script.js';
import { CheckBatcher } from './redis-batch.js';
import { enforcedAllow, monotonicClock, type CheckOptions, type Clock, type LimitCheck, type LimitOutcome, type LimitStep, type LimitStore, type StoreHealth } from './store.js';

/** `unavailable`: decided by on_error without asking, because Redis was known to be down. */
export type StoreErrorReason = 'timeout' | 'connection' | 'script' | 'other' | 'unavailable';

/** What the store tells the outside world (metrics); it logs state changes itself. */
export interface RedisStoreEvents {
  onError(reason: StoreErrorReason): void;
  onStateChange(up: boolean): void;
  onLocalDenial(): void;
}

type ScriptClient = (Redis | Cluster) & {
  /** Standalone: a batch of checks, the key count first. */
  tgCheck(numKeys: number, ...keysThenArgs: string[]): Promise<ScriptReply>;
};

const CHECK_SHA = createHash('sha1').update(CHECK_LUA).digest('hex');

/** One limit of a Cluster per-key check: its step, and the `now` (Redis's, as a string) it was decided and committed at. */
interface Stamped {
  readonly step: LimitStep;
  readonly at: string;
}

/** Test hooks: an injected clock, and whether the script takes `now` from it instead of Redis TIME. */
export interface RedisStoreOptions {
  memory: MemoryStoreConfig;
  logger: Logger;
  events: RedisStoreEvents;
  /** Local time: the over-limit cache, the fallback store, and `now` itself when serverTime is false. */
  clock?: Clock;
  /**
   * Default true: decide on Redis's clock (TIME), so gateway clocks may drift
   * without changing limits. false: on `clock`, so tests can script exact
   * timelines against a real Redis (key expiry stays real time).
   */
  serverTime?: boolean;
  /** The local fallback store refused a newcomer for want of room (create.ts: metric and warn line). */
  onCapacityRefusal?: () => void;
}

// How long a starting gateway waits for Redis before it listens anyway (on_error applies meanwhile).
const STARTUP_WAIT_MS = 1000;

// After this many timeouts in a row on a live connection, stop asking for a while.
const TIMEOUTS_BEFORE_SUSPEND = 3;
const SUSPEND_MS = 500;

// What on_error open and closed answer for every limit: no numbers to tell.
const OPEN_STEP: LimitStep = { allowed: true, remaining: 0, resetMs: 0, retryAfterMs: 0 };
const CLOSED_STEP: LimitStep = { allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 1000 };

/**
 * The distributed store: every instance shares each limit's state in Redis,
 * so N gateways enforce the configured limits, not N times them.
 *
 * - On standalone Redis each check is one atomic step of CHECK_LUA (all its
 *   limits decided together, all or nothing stored), run by EVALSHA, with
 *   EVAL on NOSCRIPT, and the checks asked in one event-loop turn share one
 *   call (redis-batch.ts). On Redis Cluster, where one call must stay in one
 *   slot, each check is its own call, auto-pipelined per node by ioredis, and
 *   a check of several limits is one call per key, compensated (#perKey).
 * - A limit has one key per scope key (`<prefix>{<limit>:<scope key>}`),
 *   whatever check it is in, so a shared limit is one budget everywhere.
 * - Concurrency slots are leases in a sorted set: `release` removes ours, and
 *   a lease of an instance that crashed expires after `leaseMs`.
 * - Limit keys Redis has refused are refused locally until the same request
 *   would pass (OverLimitCache), so a flood costs Redis almost nothing.
 * - A check never waits longer than `timeout_ms`. When Redis cannot answer,
 *   `on_error` decides: `local` limits with this instance's memory store,
 *   `open` allows, `closed` refuses (503). Reconnection is automatic, with
 *   backoff capped at 1 s.
 */
export class RedisStore implements LimitStore {
  readonly #client: ScriptClient;
  readonly #batcher: CheckBatcher;
  readonly #config: RedisStoreConfig;
  readonly #fallback: MemoryStore;
  readonly #cache: OverLimitCache;
  readonly #clock: Clock;
  readonly #serverTime: boolean;
  readonly #logger: Logger;
  readonly #events: RedisStoreEvents;
  // Lease ids: unique across instances (random) and within one (counter).
  readonly #leasePrefix = randomBytes(8).toString('hex');
  #leases = 0;
  #up = false;
  #timeoutsInARow = 0;
  #readyWaiters: Array<() => void> = [];
  // On the process's own clock, not the injected one: responsiveness is real time.
  #suspendedUntil = 0;
  // Set while Redis is connected but not answering in time; logged once per episode.
  #unresponsive = false;
  #closed = false;

  constructor(config: RedisStoreConfig, options: RedisStoreOptions) {
    this.#config = config;
    this.#logger = options.logger;
    this.#events = options.events;
    this.#clock = options.clock ?? monotonicClock;
    this.#serverTime = options.serverTime ?? true;
    this.#fallback = new MemoryStore(options.memory, { clock: this.#clock, onCapacityRefusal: options.onCapacityRefusal });
    // Cluster: a refusal may count tokens of another check about to be refunded (#perKey), trusted a bounded while.
    this.#cache = new OverLimitCache({ holdMs: config.cluster ? 3 * config.timeoutMs : undefined });
    this.#client = connect(config);
    // No numberOfKeys: the key count is the first argument of each call.
    if (!config.cluster) this.#client.defineCommand('tgCheck', { lua: CHECK_LUA });
    this.#batcher = new CheckBatcher((keys, args) => this.#call(keys, args), { maxBatch: config.cluster ? 1 : undefined });
    this.#client.on('ready', () => void this.#connectAll().then(() => this.#setUp(true)));
    this.#client.on('close', () => this.#setUp(false, 'connection closed'));
    // ioredis emits 'error' on every failed reconnect; the state change is logged once.
    this.#client.on('error', (err: Error) => this.#setUp(false, err.message));
    this.#events.onStateChange(false);
  }

  check(check: LimitCheck, options?: CheckOptions): LimitOutcome | Promise<LimitOutcome> {
    if (check.limits.length === 0) return { allowed: true, steps: [] };
    if (options?.dryRun) return this.#peek(check);
    const now = this.#clock();
    const keys = checkKeys(this.#config.keyPrefix, check);
    const refused = this.#cache.size > 0 ? this.#cachedRefusal(check, keys, now) : undefined;
    if (refused !== undefined) {
      this.#events.onLocalDenial();
      return refused;
    }
    if (!this.#up || performance.now() < this.#suspendedUntil) {
      this.#events.onError('unavailable');
      return this.#withoutRedis(check);
    }
    const members = check.limits.map((spec) => (spec.algorithm === 'concurrency' ? `${this.#leasePrefix}:${(this.#leases++).toString(36)}` : ''));
    const at = this.#serverTime ? undefined : now;
    const decided = this.#config.cluster && check.limits.length > 1 ? this.#perKey(check, keys, members, at) : this.#batcher.take(keys, encodeCheck(check, at, members));
    return decided.then(
      (steps) => this.#outcome(check, keys, members, steps, now),
      (err: Error) => {
        this.#events.onError(classify(err));
        return this.#withoutRedis(check);
      },
    );
  }

  /**
   * Redis Cluster, a check of several limits. Their keys live on any masters,
   * so no one script sees them all: each limit is decided by its own call,
   * which stores the limit's next state when its own step allows (as a check
   * of that limit alone would), and when the steps combined refuse, every
   * commit is given back (refund in CHECK_LUA). The trade-off against the
   * one atomic script of standalone Redis: never looser (a refund never
   * gives back more than the commit still holds), but a request meeting
   * those tokens between commit and refund sees them spent, so it may be
   * refused where standalone would admit it: stricter, for about one round
   * trip (or until refill, if a refund is lost). The steps answered are the
   * decision's, as standalone reports them, not the states after refunds.
   * A call that fails fails the check (on_error decides), after the others
   * are given back: a failed check consumes nothing, as on standalone.
   */
  async #perKey(check: LimitCheck, keys: string[], members: string[], now: number | undefined): Promise<LimitStep[]> {
    const calls = keys.map((key, i) => this.#call([key], encodeStamped(check, i, now, members[i] as string)).then(stamped));
    const decided = await Promise.allSettled(calls);
    const failed = decided.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const steps = decided.map((r) => (r.status === 'fulfilled' ? r.value.step : CLOSED_STEP));
    if (failed === undefined && enforcedAllow(check.limits, steps)) return steps;
    decided.forEach((r, i) => {
      if (r.status === 'fulfilled' && r.value.step.allowed) this.#refund(check.limits[i] as LimitSpec, keys[i] as string, members[i] as string, check.cost, now, r.value);
    });
    if (failed !== undefined) throw failed.reason;
    return steps;
  }

  /**
   * A dry run: the same script deciding at the same instant, storing nothing
   * (and never answered from the over-limit cache, which only knows refusals).
   * Not batched: peeks are rare and must not delay the batch they would join.
   * On Cluster each limit is peeked by its own call, as nothing needs undoing.
   */
  async #peek(check: LimitCheck): Promise<LimitOutcome> {
    if (!this.#up) return this.#withoutRedis(check, { dryRun: true });
    const keys = checkKeys(this.#config.keyPrefix, check);
    const at = this.#serverTime ? undefined : this.#clock();
    try {
      const calls = this.#config.cluster
        ? keys.map((key, i) => this.#call([key], ['dry', ...encodeCheck({ ...check, limits: [check.limits[i] as LimitSpec], keys: [check.keys[i] as string] }, at, [''])]))
        : [this.#call(keys, ['dry', ...encodeCheck(check, at, keys.map(() => ''))])];
      const replies = await Promise.all(calls);
      const steps = replies.flatMap((reply) => parseSteps(reply, 0, reply.length / 4));
      return { allowed: enforcedAllow(check.limits, steps), steps };
    } catch (err) {
      this.#events.onError(classify(err as Error));
      return this.#withoutRedis(check, { dryRun: true });
    }
  }

  /** Fire and forget: a lost refund only leaves its tokens spent until they refill (stricter, never looser). */
  #refund(spec: LimitSpec, key: string, member: string, cost: number, now: number | undefined, committed: Stamped): void {
    if (this.#closed) return;
    const args = encodeRefund(spec, cost, now, committed.at, committed.step.resetMs, member);
    this.#eval([key], args).catch((err: Error) => this.#events.onError(classify(err)));
  }

  /** One script call (a batch, or one key on Cluster); its outcome feeds the responsiveness state once per call, not per check. */
  #call(keys: string[], args: string[]): Promise<ScriptReply> {
    const call = this.#config.cluster ? (this.#eval(keys, args) as Promise<ScriptReply>) : this.#client.tgCheck(keys.length, ...keys, ...args);
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

  /**
   * Cluster: plain EVALSHA, not a defineCommand script. ioredis's cluster
   * auto-pipelining routes a custom command by its first argument, which for
   * a variable key count is the count ("1": the wrong slot, and a pipeline
   * refused for mixing slots); a command per key count defined on first use
   * crashes a pipeline created before it. EVALSHA is a command ioredis knows
   * the keys of. NOSCRIPT (a restarted or flushed node) is answered as ioredis
   * scripts do: one EVAL, which also caches the script again.
   */
  #eval(keys: string[], args: string[]): Promise<unknown> {
    const client = this.#client;
    return client.evalsha(CHECK_SHA, keys.length, ...keys, ...args).catch((err: Error) => {
      if (!err.message.startsWith('NOSCRIPT')) throw err;
      return client.eval(CHECK_LUA, keys.length, ...keys, ...args);
    });
  }

  #outcome(check: LimitCheck, keys: string[], members: string[], steps: LimitStep[], now: number): LimitOutcome {
    const { limits } = check;
    const allowed = enforcedAllow(limits, steps);
    if (!allowed) {
      limits.forEach((spec, i) => {
        const step = steps[i] as LimitStep;
        if (!step.allowed && spec.mode === 'enforce' && spec.algorithm !== 'concurrency') this.#cache.remember(keys[i] as string, spec, check.cost, now, step);
      });
      return { allowed, steps };
    }
    const held = limits.some((spec, i) => spec.algorithm === 'concurrency' && (steps[i] as LimitStep).allowed);
    if (!held) return { allowed, steps };
    return { allowed, steps, release: this.#releaser(limits, keys, members, steps) };
  }

  /**
   * A check refused from the cache, without a round trip: the cached limits'
   * steps as Redis last gave them; the others are not asked, and report full
   * (headers only ever use the refusing step).
   */
  #cachedRefusal(check: LimitCheck, keys: string[], now: number): LimitOutcome | undefined {
    const { limits, cost } = check;
    let steps: LimitStep[] | undefined;
    for (let i = 0; i < limits.length; i++) {
      const spec = limits[i] as LimitSpec;
      if (spec.mode !== 'enforce' || spec.algorithm === 'concurrency') continue;
      const step = this.#cache.get(keys[i] as string, spec, cost, now);
      if (step === undefined) continue;
      steps ??= limits.map((s) => ({ allowed: true, remaining: s.capacity, resetMs: 0, retryAfterMs: 0 }));
      steps[i] = step;
    }
    return steps === undefined ? undefined : { allowed: false, steps };
  }

  /**
   * Gives back the leases one admitted check took: fire and forget (a lost
   * ZREM only holds the slot until its lease expires); idempotent.
   */
  #releaser(limits: readonly LimitSpec[], keys: string[], members: string[], steps: LimitStep[]): () => void {
    let released = false;
    return () => {
      if (released || this.#closed) return;
      released = true;
      limits.forEach((spec, i) => {
        if (spec.algorithm !== 'concurrency' || !(steps[i] as LimitStep).allowed) return;
        this.#client.zrem(keys[i] as string, members[i] as string).catch((err: Error) => this.#events.onError(classify(err)));
      });
    };
  }

  /** EXISTS per key (one key per call: any Cluster slot); Redis unreachable: what the local fallback holds. */
  async holds(check: LimitCheck): Promise<boolean> {
    if (!this.#up) return this.#fallback.holds(check);
    try {
      const found = await Promise.all(checkKeys(this.#config.keyPrefix, check).map((key) => this.#client.exists(key)));
      return found.some((n) => n > 0) || this.#fallback.holds(check);
    } catch {
      return this.#fallback.holds(check);
    }
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

  #withoutRedis(check: LimitCheck, options?: CheckOptions): LimitOutcome {
    switch (this.#config.onError) {
      case 'local':
        return this.#fallback.check(check, options);
      case 'open':
        return { allowed: true, steps: check.limits.map(() => OPEN_STEP), reason: 'store_unavailable' };
      case 'closed':
        return { allowed: false, steps: check.limits.map(() => CLOSED_STEP), reason: 'store_unavailable' };
    }
  }

  #callFailed(err: Error): void {
    if (classify(err) !== 'timeout') return;
    if (++this.#timeoutsInARow >= TIMEOUTS_BEFORE_SUSPEND) {
      this.#timeoutsInARow = 0;
      this.#suspendedUntil = performance.now() + SUSPEND_MS;
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

function stamped(reply: ScriptReply): Stamped {
  if (!Array.isArray(reply) || reply.length !== 5) throw new Error('unexpected script reply: 5 entries expected');
  return { step: parseSteps(reply, 0, 1)[0] as LimitStep, at: String(reply[4]) };
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
