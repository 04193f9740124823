import type { Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from './config/types.js';
import { createStore } from './limit/stores/create.js';
import type { LimitStore } from './limit/stores/store.js';
import { LocalOverrides, type Overrides } from './limit/overrides.js';
import { RedisOverrides } from './limit/redis-overrides.js';
import { GatewayMetrics } from './observability/metrics.js';
import { createLogger, type Logger } from './observability/logging.js';
import { buildConfigApp, type Shared } from './gateway/app.js';
import { AdaptiveHolder } from './adaptive/holder.js';
import { Listener } from './gateway/listener.js';
import { configHash, restartOnlyChanges } from './gateway/reload.js';
import { buildAdminApp } from './admin/app.js';
import { storeReadiness } from './observability/endpoints.js';
import { dirname } from 'node:path';
import type { FastifyInstance as AdminApp } from 'fastify';
import type { PostgresKeyStore } from './keys/store.js';
import { DashboardFeed } from './dashboard/feed.js';

export interface GatewayOptions {
  /** Defaults to a pino logger at config.log.level on stdout. */
  logger?: Logger;
  /** Defaults to the store config.store names. */
  store?: LimitStore;
  /** Overrides config.server.port (0 picks a free port: tests, demo). */
  port?: number;
  /** Overrides config.admin.port. */
  adminPort?: number;
  host?: string;
  /** Defaults to overrides kept where the store keeps its state (Redis) or in this process. */
  overrides?: Overrides;
  /** false: no admin listener whatever the config says (a worker process: the primary serves the admin API). */
  admin?: false;
  /** A tap for a dashboard elsewhere (a worker's, read by its primary); by default only with this process's own admin dashboard. */
  dashboardFeed?: boolean;
  /** What /metrics answers; defaults to this process's registry (a worker asks its primary for every worker's sum). */
  renderMetrics?: () => Promise<string>;
}

export interface Gateway {
  /** The one HTTP server, shared by every config generation. */
  readonly server: Server;
  /** The Fastify app of the live config. */
  readonly app: FastifyInstance;
  /** The live config. */
  readonly config: GatewayConfig;
  readonly store: LimitStore;
  readonly overrides: Overrides;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** The key store's copy of the keys, with key_store.type postgres; null when keys come from the config file. */
  readonly keys: PostgresKeyStore | null;
  /** The dashboard's tap on the access log; null when no dashboard reads it. */
  readonly dashboardFeed: DashboardFeed | null;
  /** Starts listening (and the admin listener, when configured); resolves to the base URL, e.g. `http://127.0.0.1:8080`. */
  listen(): Promise<string>;
  /** The admin API's base URL once listening, when `admin:` is configured. */
  readonly adminUrl: string | undefined;
  /**
   * Makes `config` live for every request that arrives after it resolves;
   * requests in flight finish on the config they started with. Buckets are
   * kept (they belong to the store, keyed by policy). Rejects, changing
   * nothing, when the new config's app cannot be built. Settings that need a
   * new listener or store (server.host, server.port, server.max_header_bytes,
   * store) keep their running values; the result names them.
   */
  reload(config: GatewayConfig): Promise<{ ignored: string[] }>;
  /** Stops accepting, lets in-flight requests finish, closes upstream pools and the store. */
  close(): Promise<void>;
}

/** Builds the gateway from a frozen config: shared parts (logger, metrics, store, listener) and the live config's app. */
export async function buildGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.log.level);
  // The gauge reads the store only when scraped; the store reports into the metrics.
  const metrics = new GatewayMetrics(() => store.size());
  const store: LimitStore = options.store ?? createStore(config, logger, metrics.storeEvents);
  // Overrides live where the buckets do: shared through Redis, or this process's own. Expiry is wall-clock time, as every instance shares it.
  const overrides: Overrides =
    options.overrides ??
    (config.store.type === 'redis' && config.store.redis && options.store === undefined
      ? new RedisOverrides(config.store.redis, logger, Date.now)
      : new LocalOverrides(Date.now));
  if (options.renderMetrics) metrics.render = options.renderMetrics;
  let closing = false;
  // Keys as data: loaded and kept current in memory; listen() waits for the first load.
  // pg is loaded then, and only then.
  const keys = config.keyStore.type === 'postgres' ? new (await import('./keys/store.js')).PostgresKeyStore(config.keyStore.postgres, logger, metrics.registry) : null;
  keys?.start();
  // The dashboard's tap on the request path: only with the admin listener's dashboard in this process.
  const dashboardFeed = options.dashboardFeed === true || (config.admin?.dashboard && options.admin !== false) ? new DashboardFeed() : null;
  const shared: Shared = {
    keys,
    dashboardFeed,
    logger,
    metrics,
    store,
    overrides,
    readiness: storeReadiness(store, () => closing),
    // Learned weights live where overrides do: shared through Redis, else in adaptive.weights_file (relative to the config file).
    adaptive: new AdaptiveHolder(metrics.registry, {
      redis: config.store.type === 'redis' && options.store === undefined ? config.store.redis : undefined,
      baseDir: config.file === '<inline>' ? process.cwd() : dirname(config.file),
      logger,
    }),
  };
  const listener = new Listener(await buildConfigApp(config, shared), config.server);
  metrics.setConfigHash(configHash(config));
  let closed: Promise<void> | undefined;
  // Its own app and listener: admin calls are never routed through the gateway's port.
  const admin: AdminApp | undefined = config.admin && options.admin !== false
    ? await buildAdminApp({ config: () => listener.live.config, store, overrides, logger, metrics, readiness: shared.readiness, adaptive: shared.adaptive, keys: keys ?? undefined, dashboardFeed: dashboardFeed ?? undefined })
    : undefined;
  let adminUrl: string | undefined;

  return {
    server: listener.server,
    get app() {
      return listener.live.app;
    },
    get config() {
      return listener.live.config;
    },
    store,
    overrides,
    metrics,
    logger,
    keys,
    dashboardFeed,
    get adminUrl() {
      return adminUrl;
    },
    async listen() {
      await Promise.all([store.whenReady?.(), overrides.whenReady?.(), shared.adaptive.whenReady(), keys?.whenLoaded()]);
      const host = options.host ?? config.server.host;
      await new Promise<void>((resolve, reject) => {
        listener.server.once('error', reject);
        listener.server.listen(options.port ?? config.server.port, host, () => {
          listener.server.off('error', reject);
          resolve();
        });
      });
      const url = urlOf(listener.server.address());
      if (admin && config.admin) {
        await admin.listen({ host: config.admin.host, port: options.adminPort ?? config.admin.port });
        adminUrl = urlOf(admin.server.address());
      }
      return url;
    },
    async reload(next) {
      if (closing) throw new Error('the gateway is shutting down');
      const live = listener.live.config;
      const ignored = restartOnlyChanges(live, next);
      const app = await buildConfigApp(next, shared, listener.live);
      if (closing) {
        // close() began while the app was being built: it must not outlive the gateway.
        await app.close();
        throw new Error('the gateway is shutting down');
      }
      listener.applySettings(next.server);
      // Only a change in the file moves the level: a logger handed in keeps its own otherwise.
      if (next.log.level !== live.log.level) logger.level = next.log.level;
      listener.swap(app);
      metrics.setConfigHash(configHash(next));
      return { ignored };
    },
    close() {
      closing = true;
      closed ??= Promise.all([listener.close(), admin?.close()])
        .then(() => Promise.all([store.close(), overrides.close(), shared.adaptive.close(), keys?.close()]))
        .then(() => undefined);
      return closed;
    },
  };
}

/** `http://host:port` of a listening server (IPv6 in brackets). */
export function urlOf(address: ReturnType<Server['address']>): string {
  if (address === null || typeof address === 'string') throw new Error('listener has no TCP address');
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown}:${address.port}`;
}
