/** The resolved, frozen configuration every part of the gateway receives. */

export type KeySource = { kind: 'ip' } | { kind: 'header'; name: string };

export interface LimitPolicy {
  /** Stable id, used as the bucket namespace and the draft header's policy name. */
  readonly id: string;
  /** Refill rate in tokens per second (may be fractional). */
  readonly rate: number;
  /** Bucket capacity; a new client starts full. */
  readonly burst: number;
  readonly key: readonly KeySource[];
  readonly headers: { readonly legacy: boolean; readonly draft: boolean };
}

export type BalanceKind = 'round_robin' | 'least_connections' | 'random_two';

export interface TargetConfig {
  /** The target URL as configured (the `target` metric label: from config, so bounded). */
  readonly url: string;
  /** e.g. `http://127.0.0.1:8000`. */
  readonly origin: string;
  readonly weight: number;
}

export interface HealthCheckConfig {
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly healthyAfter: number;
  readonly unhealthyAfter: number;
}

export interface UpstreamConfig {
  /** One target for `upstream: URL`; a pool otherwise. */
  readonly targets: readonly TargetConfig[];
  readonly balance: BalanceKind;
  /** null: no active checks, every target counts as healthy. */
  readonly healthCheck: HealthCheckConfig | null;
  /** null: failures never take a target out. */
  readonly passive: { readonly ejectAfter: number; readonly ejectForMs: number } | null;
  /** Extra attempts on another target, for idempotent requests without a body that could not connect. */
  readonly retries: number;
  readonly circuitBreaker: { readonly errorRate: number; readonly minRequests: number; readonly windowMs: number; readonly openForMs: number } | null;
}

export interface RouteConfig {
  /** Position in the config file, used in logs and errors (`routes[2]`). */
  readonly index: number;
  /** The configured path prefix; also the `route` metric label. */
  readonly path: string;
  /** Lower-case host to match exactly, `*.example.com` for any subdomain, or null for any host. */
  readonly host: string | null;
  /** Upper-case methods this route takes; a path it matches with another method is answered 405. */
  readonly methods: readonly string[];
  readonly upstream: UpstreamConfig;
  /** First target's origin, e.g. `http://127.0.0.1:8000` (the route table's and startup line's summary). */
  readonly upstreamOrigin: string;
  /** Path prefix the upstream URLs carry ('' when none; one pool's targets share it). */
  readonly upstreamPath: string;
  readonly stripPrefix: boolean;
  /** What replaces the route's path in the forwarded URL (`rewrite.prefix`), or null. */
  readonly rewritePrefix: string | null;
  readonly timeoutMs: number;
  readonly tlsVerify: boolean;
  /** null: this route is not limited. */
  readonly policy: LimitPolicy | null;
}

export type TrustProxy = boolean | number | readonly string[];

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly trustProxy: TrustProxy;
  readonly shutdownGraceMs: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxHeaderBytes: number;
  readonly maxBodyBytes: number;
}

export interface MemoryStoreConfig {
  readonly maxKeys: number;
  readonly sweepIntervalMs: number;
}

/** What a decision does when Redis cannot answer in time. */
export type RedisFailureMode = 'local' | 'open' | 'closed';

export interface RedisStoreConfig {
  /** One URL: a standalone server. Several: seed nodes of a Redis Cluster. */
  readonly urls: readonly string[];
  readonly cluster: boolean;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  readonly onError: RedisFailureMode;
}

export interface GatewayConfig {
  /** The file this config was read from ('<inline>' when built in code). */
  readonly file: string;
  readonly server: ServerConfig;
  readonly log: { readonly level: string };
  readonly store: {
    readonly type: 'memory' | 'redis';
    readonly memory: MemoryStoreConfig;
    /** Present when type is redis. */
    readonly redis: RedisStoreConfig | undefined;
  };
  readonly routes: readonly RouteConfig[];
}
