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

export interface RouteConfig {
  /** Position in the config file, used in logs and errors (`routes[2]`). */
  readonly index: number;
  /** The configured path prefix; also the `route` metric label. */
  readonly path: string;
  /** Upstream origin, e.g. `http://127.0.0.1:8000`. */
  readonly upstreamOrigin: string;
  /** Path prefix the upstream URL carries ('' when none). */
  readonly upstreamPath: string;
  readonly stripPrefix: boolean;
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
