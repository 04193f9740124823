import pg from 'pg';
import type { Registry } from 'prom-client';
import type { Logger } from '../observability/logging.js';
import type { PostgresKeyStoreConfig } from './config.js';
import { isCurrent, migrate } from './migrate.js';
import { NOTIFY_CHANNEL } from './migrations.js';
import { KeyRepository } from './repository.js';
import { KeyTable } from './table.js';
import { UsageCounter } from './usage.js';
import { keyStoreMetrics, type KeyStoreMetrics } from './metrics.js';

/** Usage is written at most once a minute per instance: one batch for every key used since the last. */
const USAGE_FLUSH_MS = 60_000;
const USAGE_PRUNE_MS = 3_600_000;
const RECONNECT_FIRST_MS = 200;
const RECONNECT_MAX_MS = 5_000;

/**
 * API keys in PostgreSQL, mirrored into this process's memory (KeyTable).
 *
 * Sync protocol: one dedicated connection LISTENs on `throttlegate_keys`
 * (migrations.ts's triggers NOTIFY `<schema>:<id>` on every change that
 * decides whether a key works); each notification reloads that key's rows.
 * A full load follows every (re)connect, after LISTEN, so nothing changed
 * between the two is missed, and runs again every resync_interval to heal a
 * notification lost any other way. While PostgreSQL is away the table keeps
 * serving what it holds (a revoked key stays revoked), `key_store_up` is 0,
 * and the connection is retried with backoff.
 */
export class PostgresKeyStore {
  readonly table = new KeyTable();
  readonly usage: UsageCounter;
  readonly repository: KeyRepository;
  readonly #pool: pg.Pool;
  readonly #metrics: KeyStoreMetrics;
  #listener: pg.Client | null = null;
  #up = false;
  #closed = false;
  #retryMs = RECONNECT_FIRST_MS;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  #lastError = 'not connected yet';
  #loaded = false;
  readonly #loadWaiters: (() => void)[] = [];
  // Ids named by notifications, reloaded together on the next turn; during a full load, reloaded after it.
  #pendingIds = new Set<string>();
  #pendingScheduled = false;
  #fullLoad: Promise<void> | null = null;
  // Per-key reloads run one after another: one that started later read a newer snapshot, and must land last.
  #reloads: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: PostgresKeyStoreConfig,
    private readonly logger: Logger,
    registry: Registry,
    clock: () => number = Date.now,
  ) {
    this.usage = new UsageCounter(clock);
    this.#pool = new pg.Pool({ connectionString: config.url, max: 4, connectionTimeoutMillis: 2_000, idleTimeoutMillis: 10_000, keepAlive: true, application_name: 'throttlegate' });
    // An idle pooled connection the server drops: the pool discards it; the next call opens another.
    this.#pool.on('error', (err) => this.logger.debug({ err: errorText(err) }, 'key store: an idle connection closed'));
    this.repository = new KeyRepository(this.#pool, config.schema);
    this.#metrics = keyStoreMetrics(registry, this.table, clock);
  }

  /** Whether PostgreSQL answers and this instance listens for its changes. */
  get up(): boolean {
    return this.#up;
  }

  /** Connects, migrates, listens and loads; retries in the background until close(). */
  start(): void {
    void this.#connect();
    this.#timers.push(
      setInterval(() => void this.#resync(), this.config.resyncIntervalMs).unref(),
      setInterval(() => void this.flushUsage(), USAGE_FLUSH_MS).unref(),
      setInterval(() => void this.repository.pruneUsage().catch(() => {}), USAGE_PRUNE_MS).unref(),
    );
  }

  /**
   * Resolves once the keys are loaded for the first time; rejects after
   * startup_timeout, since a gateway with no keys would treat every keyed
   * client as anonymous (or refuse it, with require_api_key).
   */
  whenLoaded(): Promise<void> {
    if (this.#loaded) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `key_store: could not load the API keys from PostgreSQL at ${this.config.where} within ${this.config.startupTimeoutMs / 1000}s (${this.#lastError}); not serving without them`,
          ),
        );
      }, this.config.startupTimeoutMs);
      this.#loadWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.config.url, keepAlive: true, connectionTimeoutMillis: 5_000, application_name: 'throttlegate-sync' });
    client.on('error', (err) => this.#lost(client, err));
    client.on('end', () => this.#lost(client, new Error('connection closed')));
    client.on('notification', (message) => this.#notified(message.payload));
    this.#listener = client;
    try {
      await client.connect();
      // A role without DDL rights can run a schema an owner migrated (`throttlegate migrate`): only a schema behind is migrated.
      if (!(await isCurrent(client, this.config.schema))) await migrate(client, this.config.schema);
      await client.query(`LISTEN ${NOTIFY_CHANNEL}`);
      await this.#loadAll();
    } catch (err) {
      this.#lost(client, err);
      return;
    }
    if (this.#listener !== client) return;
    this.#retryMs = RECONNECT_FIRST_MS;
    this.#setUp(true);
  }

  #lost(client: pg.Client, err: unknown): void {
    if (this.#listener !== client) return;
    this.#listener = null;
    this.#lastError = errorText(err);
    client.end().catch(() => {});
    if (this.#closed) return;
    if (this.#up || this.#retryMs === RECONNECT_FIRST_MS) {
      const what = this.#loaded ? 'serving the keys held in memory; reconnecting' : 'no keys loaded yet; retrying';
      this.logger.warn({ key_store: this.config.where, err: this.#lastError }, `key store: PostgreSQL unreachable, ${what}`);
    }
    this.#setUp(false);
    const delay = this.#retryMs;
    this.#retryMs = Math.min(RECONNECT_MAX_MS, this.#retryMs * 2);
    this.#retryTimer = setTimeout(() => void this.#connect(), delay);
    this.#retryTimer.unref();
  }

  #setUp(up: boolean): void {
    if (up && !this.#up) this.logger.info({ key_store: this.config.where, keys: this.table.size }, 'key store: connected, listening for key changes');
    this.#up = up;
    this.#metrics.setUp(up);
  }

  /** A full load; notifications that arrive meanwhile are reloaded after it, so the older snapshot cannot undo them. */
  #loadAll(): Promise<void> {
    this.#fullLoad ??= (async () => {
      const started = performance.now();
      try {
        const listener = this.#listener;
        if (listener === null) throw new Error('not connected');
        const rows = await this.repository.loadAll(listener);
        this.table.replaceAll(rows);
        this.#metrics.observeSync((performance.now() - started) / 1000);
        if (!this.#loaded) {
          this.#loaded = true;
          for (const wake of this.#loadWaiters.splice(0)) wake();
        }
      } finally {
        this.#fullLoad = null;
      }
      if (this.#pendingIds.size > 0) await this.#reloadPending();
    })();
    return this.#fullLoad;
  }

  async #resync(): Promise<void> {
    if (!this.#up) return;
    try {
      await this.#loadAll();
    } catch (err) {
      this.logger.warn({ key_store: this.config.where, err: errorText(err) }, 'key store: resync failed, keeping the keys held in memory');
    }
  }

  #notified(payload: string | undefined): void {
    const prefix = `${this.config.schema}:`;
    if (payload === undefined || !payload.startsWith(prefix)) return;
    this.#pendingIds.add(payload.slice(prefix.length));
    if (this.#pendingScheduled || this.#fullLoad !== null) return;
    this.#pendingScheduled = true;
    // Every notification of one turn (a rotation touches two rows) reloads in one query.
    setImmediate(() => {
      this.#pendingScheduled = false;
      void this.#reloadPending().catch((err: unknown) => {
        // Reloaded by the next full load (after the reconnect that a lost connection brings, or at resync_interval).
        this.logger.warn({ key_store: this.config.where, err: errorText(err) }, 'key store: reloading changed keys failed');
      });
    });
  }

  /**
   * Reloads one key now: the admin API calls it after a change, so the
   * instance that made it answers accordingly at once (others follow their
   * notification). A failure leaves it to the notification.
   */
  async refresh(id: string): Promise<void> {
    try {
      await this.#reload([id]);
    } catch (err) {
      this.logger.debug({ err: errorText(err) }, 'key store: reloading a changed key failed, left to its notification');
    }
  }

  #reloadPending(): Promise<void> {
    const ids = [...this.#pendingIds];
    this.#pendingIds = new Set();
    return this.#reload(ids);
  }

  /** Reloads `ids` after every reload queued before it (a query started later sees a newer snapshot, and is applied later). */
  #reload(ids: string[]): Promise<void> {
    const run = this.#reloads.then(async () => this.table.replaceKeys(ids, await this.repository.loadKeys(ids)));
    this.#reloads = run.catch(() => {});
    return run;
  }

  /** Writes the usage counted since the last flush (one batch); a failed write is kept for the next. */
  async flushUsage(): Promise<void> {
    const batch = this.usage.drain();
    if (batch.size === 0) return;
    try {
      await this.repository.writeUsage(batch);
    } catch (err) {
      this.usage.restore(batch);
      this.logger.debug({ err: errorText(err) }, 'key store: usage not written, kept for the next flush');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#retryTimer);
    if (this.#up) await withTimeout(this.flushUsage(), 2_000);
    const listener = this.#listener;
    this.#listener = null;
    this.#setUp(false);
    await Promise.all([listener?.end().catch(() => {}), this.#pool.end().catch(() => {})]);
  }
}

/** An error as a log line may show it: its message (pg's never carry the URL or its password). */
export function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return errorText(err.errors[0]);
  return err instanceof Error ? err.message || (err as { code?: string }).code || err.name : String(err);
}

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  return Promise.race([work, new Promise<void>((resolve) => setTimeout(resolve, ms).unref())]);
}
