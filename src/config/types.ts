/** The resolved, frozen configuration every part of the gateway receives. */

import type { LimitSpec } from '../limit/algorithms/types.js';
import type { JwtVerifierConfig } from '../limit/jwt.js';
import type { AdaptiveConfig } from '../adaptive/config.js';
import type { AdaptiveConcurrencyConfig } from '../adaptive/concurrency/config.js';
import type { TracingConfig } from '../tracing/config.js';
import type { KeyStoreConfig } from '../keys/config.js';

/** Where a client's identity is read from (`key:` list), tried in order. */
export type KeySource =
  | { readonly kind: 'ip' }
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'query'; readonly name: string }
  | { readonly kind: 'jwt'; readonly claim: string };

/** A rate_limit block, resolved: the limits every request of a route must pass, and how clients are told apart. */
export interface LimitPolicy {
  /** Stable id ("default" or the route path): the namespace of its limits' ids. */
  readonly id: string;
  /** At least one. A single limit's id is the policy id (the draft header's policy name). */
  readonly limits: readonly LimitSpec[];
  readonly key: readonly KeySource[];
  /** IPv6 clients are keyed by this prefix length (one host usually holds a whole /64). */
  readonly ipv6Subnet: number;
  readonly headers: { readonly legacy: boolean; readonly draft: boolean };
  /** Hold a refused request until it would pass, if that is soon enough; null: refuse at once. */
  readonly onLimit: { readonly delayUpToMs: number; readonly maxQueue: number } | null;
  /** `unverified_key_envelope`: every unverified key of one address also shares the client limits times this; null: off. */
  readonly unverifiedKeyEnvelope: { readonly multiplier: number } | null;
}

/** The limits applied to one kind of client on one route: anonymous, or holding a key of a plan. */
export interface LimitSet {
  /** Stable id of the set (a store's atomicity group). */
  readonly group: string;
  readonly limits: readonly LimitSpec[];
  /** The plan's name, or null for anonymous clients (the `plan` label says `anonymous`). */
  readonly plan: string | null;
}

export interface ApiKeyConfig {
  readonly id: string;
  /** Lower-case hex SHA-256 of the key. */
  readonly sha256: string;
  readonly plan: string | null;
}

/** allow: / deny: lists, resolved. */
export interface AccessRules {
  readonly allow: AccessList;
  readonly deny: AccessList;
}
export interface AccessList {
  /** `[address, prefix length]` pairs as ipaddr.js parses them. */
  readonly cidrs: readonly (readonly [string, number])[];
  readonly keyIds: readonly string[];
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
  /**
   * The policy's limits for anonymous clients, and for each plan (plan limits plus the policy's route and global ones);
   * `unverifiedKey`: the anonymous limits plus the address envelope, for clients an unverified key identified (absent when off).
   */
  readonly limitSets: { readonly anonymous: LimitSet; readonly unverifiedKey?: LimitSet; readonly plans: Readonly<Record<string, LimitSet>> } | null;
  /**
   * How clients are told apart on this route: the policy's sources, or for a
   * route with `rate_limit: false` the default policy's (require_api_key and
   * allow/deny by key id still need to know who calls).
   */
  readonly identity: { readonly key: readonly KeySource[]; readonly ipv6Subnet: number };
  /** Tokens each request takes from every limit (`cost:`). */
  readonly cost: number;
  /** A request without a known API key or a verified JWT is refused 401. */
  readonly requireApiKey: boolean;
  /** `adaptive: false` on the route: risk scores never touch it. */
  readonly adaptive: boolean;
  /** `login: true`: the upstream's 401/403 here are failed logins; adaptive.failed_logins of them in a row label the client bad. */
  readonly login: boolean;
  /** `adaptive_concurrency:`: the upstream's adaptive concurrency limit, with admission by risk band; null or absent: off. */
  readonly adaptiveConcurrency: AdaptiveConcurrencyConfig | null;
  /** The gateway's allow/deny lists followed by the route's own. */
  readonly access: AccessRules;
}

export type TrustProxy = boolean | number | readonly string[];

export interface ServerConfig {
  readonly host: string;
  readonly port: number;
  readonly trustProxy: TrustProxy;
  readonly shutdownGraceMs: number;
  /** Worker processes serving the port (`server.workers`, `auto` resolved to the cores available); 1: a single process. */
  readonly workers: number;
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

/** The admin API's listener (`admin:`); absent: no admin API. */
export interface AdminConfig {
  readonly host: string;
  readonly port: number;
  /** Bearer tokens, each with the id audit lines name. */
  readonly tokens: readonly { readonly id: string; readonly token: string }[];
  /** /metrics is served on the admin listener instead of the gateway's. */
  readonly exposeMetrics: boolean;
  /** The web dashboard at /dashboard/ (default on). */
  readonly dashboard: boolean;
  /** Failed authentications one address may make: `burst`, refilled at `perMinute`; past them it gets 429. */
  readonly authFailures: { readonly burst: number; readonly perMinute: number };
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
  readonly apiKeys: readonly ApiKeyConfig[];
  /** Plan name -> its limits, as configured (routes hold them resolved in `limitSets`). */
  readonly plans: Readonly<Record<string, readonly LimitSpec[]>>;
  readonly admin: AdminConfig | null;
  /** How `jwt:` key sources verify tokens; null when none is configured. */
  readonly jwt: JwtVerifierConfig | null;
  /** Adaptive protection (risk scores moving client limits); null when the `adaptive:` block is absent. */
  readonly adaptive: AdaptiveConfig | null;
  /** Span export over OTLP/HTTP; null when the `tracing:` block is absent (trace context is propagated either way). */
  readonly tracing: TracingConfig | null;
  /** Where API keys live: the api_keys list above (`config`), or PostgreSQL, managed through /v1/keys. */
  readonly keyStore: KeyStoreConfig;
}
