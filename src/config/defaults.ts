import { availableParallelism } from 'node:os';
import type { AccessRules, ApiKeyConfig, BalanceKind, GatewayConfig, LimitPolicy, RedisStoreConfig, RouteConfig, TrustProxy, UpstreamConfig } from './types.js';
import type { LimitSpec } from '../limit/algorithms/types.js';
import type { JwtAlgorithm, JwtVerifierConfig } from '../limit/jwt.js';
import { parseDuration } from './duration.js';
import { buildLimitSets, buildLimits, buildPolicy, mergeAccess, parseAccessList, parseCidr, parseKeySource, POLICY_DEFAULTS, type RawLimit, type RawRateLimit } from './policies.js';
import { buildAdaptive, type RawAdaptive } from '../adaptive/config.js';
import { buildTracing, type RawTracing } from '../tracing/config.js';
import { buildKeyStore, type RawKeyStore } from '../keys/config.js';
import { buildAdaptiveConcurrency, checkAdaptiveConcurrency, type RawAdaptiveConcurrency } from '../adaptive/concurrency/config.js';

/** Methods a route proxies (all of them unless it lists `methods:`); any other method is answered 405. */
export const PROXIED_METHODS = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS'] as const;

export const BALANCE_KINDS: readonly BalanceKind[] = ['round_robin', 'least_connections', 'random_two'];

/** Documented defaults (README "Config reference" lists the same values). */
export const DEFAULTS = {
  server: {
    host: '0.0.0.0',
    port: 8080,
    trust_proxy: false as TrustProxy,
    shutdown_grace_ms: 10_000,
    workers: 1 as number | 'auto',
    headers_timeout_ms: 10_000,
    request_timeout_ms: 60_000,
    keep_alive_timeout_ms: 5_000,
    max_header_bytes: 16_384,
    max_body_bytes: 10 * 1024 * 1024,
  },
  log: { level: 'info' },
  store: {
    memory: { max_keys: 1_000_000, sweep_interval_ms: 1_000 },
    redis: { url: 'redis://127.0.0.1:6379', key_prefix: 'tg:', timeout_ms: 50, on_error: 'local' as const },
  },
  route: { strip_prefix: false, timeout_ms: 30_000, tls_verify: true, cost: 1 },
  admin: { host: '127.0.0.1', port: 9901, auth_failures: { burst: 10, per_minute: 6 } },
  upstream: {
    weight: 1,
    balance: 'round_robin' as BalanceKind,
    retries: 0,
    health_check: { interval: '5s', timeout: '1s', healthy_after: 2, unhealthy_after: 3 },
    passive: { eject_after: 5, eject_for: '30s' },
    circuit_breaker: { error_rate: 0.5, min_requests: 20, window: '10s', open_for: '15s' },
  },
} as const;

interface RawPool {
  targets: { url: string; weight?: number }[];
  balance?: BalanceKind;
  health_check?: { path: string; interval?: string; timeout?: string; healthy_after?: number; unhealthy_after?: number };
  passive?: { eject_after?: number; eject_for?: string };
  retries?: number;
  circuit_breaker?: { error_rate?: number; min_requests?: number; window?: string; open_for?: string };
}
interface RawRoute {
  path: string;
  host?: string;
  methods?: string[];
  upstream: string | RawPool;
  strip_prefix?: boolean;
  rewrite?: { prefix: string };
  timeout_ms?: number;
  tls_verify?: boolean;
  rate_limit?: RawRateLimit | false;
  cost?: number;
  require_api_key?: boolean;
  adaptive?: boolean;
  login?: boolean;
  adaptive_concurrency?: boolean | RawAdaptiveConcurrency;
  allow?: string[];
  deny?: string[];
}
export interface RawApiKey {
  id: string;
  hash: string;
  plan?: string;
}
/** The shape validateConfig() has accepted. */
export interface RawConfig {
  server?: Partial<{
    host: string; port: number; trust_proxy: TrustProxy; shutdown_grace_ms: number; workers: number | 'auto'; headers_timeout_ms: number;
    request_timeout_ms: number; keep_alive_timeout_ms: number; max_header_bytes: number; max_body_bytes: number;
  }>;
  log?: { level?: string };
  store?: {
    type?: 'memory' | 'redis';
    memory?: { max_keys?: number; sweep_interval_ms?: number };
    redis?: { url?: string | string[]; key_prefix?: string; timeout_ms?: number; on_error?: 'local' | 'open' | 'closed' };
  };
  rate_limit?: RawRateLimit;
  plans?: Record<string, { limits: RawLimit[] }>;
  /** api_keys_file's entries are appended here by load.ts. */
  api_keys?: RawApiKey[];
  api_keys_file?: string;
  adaptive?: RawAdaptive;
  tracing?: RawTracing;
  key_store?: RawKeyStore;
  /** load.ts has read public_key_file into public_key. */
  jwt?: { algorithm: JwtAlgorithm; secret?: string; public_key?: string; public_key_file?: string; issuer?: string; audience?: string; clock_tolerance?: string };
  allow?: string[];
  deny?: string[];
  admin?: { host?: string; port?: number; token?: string; tokens?: { id: string; token: string }[]; expose_metrics?: boolean; dashboard?: boolean; auth_failures?: { burst?: number; per_minute?: number } };
  routes: RawRoute[];
}

/**
 * Builds the resolved config from a validated document, applying defaults.
 * Pure: the input is read, never written, and the result is deep-frozen.
 */
export function resolveConfig(raw: RawConfig, file: string, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  const s = { ...DEFAULTS.server, ...raw.server };
  const defaultPolicy = raw.rate_limit ? buildPolicy('default', raw.rate_limit, undefined) : null;
  const apiKeys: ApiKeyConfig[] = (raw.api_keys ?? []).map((k) => ({ id: k.id, sha256: k.hash.slice('sha256:'.length).toLowerCase(), plan: k.plan ?? null }));
  const keyStore = buildKeyStore(raw.key_store);
  // A store's ids are data: every allow/deny entry that is no address names one (validation checked their shape).
  const keyIds = keyStore.type === 'postgres' ? new Set(accessEntries(raw).filter((e) => parseCidr(e) === undefined)) : new Set(apiKeys.map((k) => k.id));
  const plans: Record<string, LimitSpec[]> = {};
  for (const [name, plan] of Object.entries(raw.plans ?? {})) plans[name] = buildLimits(`plan:${name}`, plan.limits);
  const access: AccessRules = { allow: parseAccessList(raw.allow, keyIds), deny: parseAccessList(raw.deny, keyIds) };
  const context: RouteContext = { defaultPolicy, rawDefault: raw.rate_limit, plans, access, keyIds };
  const config: GatewayConfig = {
    file,
    server: {
      host: s.host,
      port: s.port,
      trustProxy: s.trust_proxy,
      shutdownGraceMs: s.shutdown_grace_ms,
      // `auto`: one worker per core the process may use (availableParallelism honours CPU affinity).
      workers: s.workers === 'auto' ? availableParallelism() : s.workers,
      headersTimeoutMs: s.headers_timeout_ms,
      requestTimeoutMs: s.request_timeout_ms,
      keepAliveTimeoutMs: s.keep_alive_timeout_ms,
      maxHeaderBytes: s.max_header_bytes,
      maxBodyBytes: s.max_body_bytes,
    },
    log: { level: env.LOG_LEVEL || raw.log?.level || DEFAULTS.log.level },
    store: {
      type: raw.store?.type ?? 'memory',
      memory: {
        maxKeys: raw.store?.memory?.max_keys ?? DEFAULTS.store.memory.max_keys,
        sweepIntervalMs: raw.store?.memory?.sweep_interval_ms ?? DEFAULTS.store.memory.sweep_interval_ms,
      },
      redis: raw.store?.type === 'redis' ? buildRedis(raw.store.redis ?? {}) : undefined,
    },
    routes: raw.routes.map((r, index) => buildRoute(r, index, context)),
    apiKeys,
    plans,
    jwt: raw.jwt ? buildJwt(raw.jwt) : null,
    adaptive: buildAdaptive(raw.adaptive),
    tracing: buildTracing(raw.tracing),
    keyStore,
    admin: raw.admin
      ? {
          host: raw.admin.host ?? DEFAULTS.admin.host,
          port: raw.admin.port ?? DEFAULTS.admin.port,
          tokens: [...(raw.admin.token === undefined ? [] : [{ id: 'admin', token: raw.admin.token }]), ...(raw.admin.tokens ?? [])],
          exposeMetrics: raw.admin.expose_metrics ?? false,
          dashboard: raw.admin.dashboard ?? true,
          authFailures: {
            burst: raw.admin.auth_failures?.burst ?? DEFAULTS.admin.auth_failures.burst,
            perMinute: raw.admin.auth_failures?.per_minute ?? DEFAULTS.admin.auth_failures.per_minute,
          },
        }
      : null,
  };
  return deepFreeze(config);
}

function buildRedis(r: NonNullable<NonNullable<RawConfig['store']>['redis']>): RedisStoreConfig {
  const d = DEFAULTS.store.redis;
  const urls = Array.isArray(r.url) ? r.url : [r.url ?? d.url];
  return {
    urls,
    cluster: Array.isArray(r.url),
    keyPrefix: r.key_prefix ?? d.key_prefix,
    timeoutMs: r.timeout_ms ?? d.timeout_ms,
    onError: r.on_error ?? d.on_error,
  };
}

function buildJwt(j: NonNullable<RawConfig['jwt']>): JwtVerifierConfig {
  return {
    algorithm: j.algorithm,
    secret: j.secret,
    publicKey: j.public_key,
    issuer: j.issuer,
    audience: j.audience,
    clockToleranceMs: j.clock_tolerance === undefined ? 0 : parseDuration(j.clock_tolerance),
  };
}

interface RouteContext {
  readonly defaultPolicy: LimitPolicy | null;
  readonly rawDefault: RawRateLimit | undefined;
  readonly plans: Readonly<Record<string, readonly LimitSpec[]>>;
  readonly access: AccessRules;
  readonly keyIds: ReadonlySet<string>;
}

function buildRoute(r: RawRoute, index: number, context: RouteContext): RouteConfig {
  const upstream = buildUpstream(r.upstream);
  // validateConfig() has checked that every target of a pool carries the same path.
  const first = new URL((upstream.targets[0] as { url: string }).url);
  let policy: LimitPolicy | null = context.defaultPolicy;
  if (r.rate_limit === false) policy = null;
  else if (r.rate_limit) policy = buildPolicy(r.path, r.rate_limit, context.rawDefault);
  return {
    index,
    path: r.path,
    host: r.host === undefined ? null : r.host.toLowerCase(),
    methods: r.methods ?? [...PROXIED_METHODS],
    upstream,
    upstreamOrigin: first.origin,
    upstreamPath: upstreamPathOf(first),
    stripPrefix: r.strip_prefix ?? DEFAULTS.route.strip_prefix,
    rewritePrefix: r.rewrite?.prefix ?? null,
    timeoutMs: r.timeout_ms ?? DEFAULTS.route.timeout_ms,
    tlsVerify: r.tls_verify ?? DEFAULTS.route.tls_verify,
    policy,
    limitSets: policy ? buildLimitSets(policy, context.plans) : null,
    identity: policy ?? {
      key: (context.rawDefault?.key ?? POLICY_DEFAULTS.key).map(parseKeySource),
      ipv6Subnet: context.rawDefault?.ipv6_subnet ?? POLICY_DEFAULTS.ipv6_subnet,
    },
    cost: r.cost ?? DEFAULTS.route.cost,
    requireApiKey: r.require_api_key ?? false,
    adaptive: r.adaptive ?? true,
    login: r.login ?? false,
    adaptiveConcurrency: buildAdaptiveConcurrency(r.adaptive_concurrency),
    access: mergeAccess(context.access, r, context.keyIds),
  };
}

/** The path an upstream URL carries, without a trailing slash ('' for none). */
export function upstreamPathOf(url: URL): string {
  return url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
}

function buildUpstream(raw: string | RawPool): UpstreamConfig {
  const d = DEFAULTS.upstream;
  const pool: RawPool = typeof raw === 'string' ? { targets: [{ url: raw }] } : raw;
  const hc = pool.health_check;
  const passive = pool.passive;
  const cb = pool.circuit_breaker;
  return {
    targets: pool.targets.map((t) => ({ url: t.url, origin: new URL(t.url).origin, weight: t.weight ?? d.weight })),
    balance: pool.balance ?? d.balance,
    healthCheck: hc
      ? {
          path: hc.path,
          intervalMs: parseDuration(hc.interval ?? d.health_check.interval),
          timeoutMs: parseDuration(hc.timeout ?? d.health_check.timeout),
          healthyAfter: hc.healthy_after ?? d.health_check.healthy_after,
          unhealthyAfter: hc.unhealthy_after ?? d.health_check.unhealthy_after,
        }
      : null,
    passive: passive
      ? { ejectAfter: passive.eject_after ?? d.passive.eject_after, ejectForMs: parseDuration(passive.eject_for ?? d.passive.eject_for) }
      : null,
    retries: pool.retries ?? d.retries,
    circuitBreaker: cb
      ? {
          errorRate: cb.error_rate ?? d.circuit_breaker.error_rate,
          minRequests: cb.min_requests ?? d.circuit_breaker.min_requests,
          windowMs: parseDuration(cb.window ?? d.circuit_breaker.window),
          openForMs: parseDuration(cb.open_for ?? d.circuit_breaker.open_for),
        }
      : null,
  };
}

/**
 * Route rate limits that cannot be completed from the default policy, and
 * adaptive_concurrency's limits and windows that contradict each other.
 */
export function checkPolicies(raw: RawConfig): { path: string; message: string }[] {
  // First, and on its own: it reads any shape, while the checks below may trip over a document the schema refused.
  const problems: { path: string; message: string }[] = checkAdaptiveConcurrency(raw.routes);
  if (raw.rate_limit && raw.rate_limit.limits === undefined) {
    for (const field of requiredShorthand(raw.rate_limit)) {
      if (raw.rate_limit[field] === undefined) problems.push({ path: `rate_limit.${field}`, message: 'is required' });
    }
  }
  raw.routes.forEach((r, i) => {
    if (!r.rate_limit || r.rate_limit.limits !== undefined) return;
    const inherited = raw.rate_limit?.limits === undefined ? raw.rate_limit : undefined;
    const stated = Object.keys(r.rate_limit).some((k) => (['algorithm', 'requests_per_second', 'burst', 'limit', 'window'] as string[]).includes(k));
    if (!stated && raw.rate_limit) return;
    for (const field of requiredShorthand({ ...inherited, ...r.rate_limit })) {
      if (r.rate_limit[field] === undefined && inherited?.[field] === undefined) {
        const why = raw.rate_limit ? 'is required (the top-level rate_limit has no single limit to inherit it from)' : 'is required when there is no top-level rate_limit to inherit from';
        problems.push({ path: `routes[${i}].rate_limit.${field}`, message: why });
      }
    }
  });
  return problems;
}

/** The shorthand fields a single limit of this algorithm needs. */
function requiredShorthand(raw: RawLimit): ('requests_per_second' | 'burst' | 'limit' | 'window')[] {
  const algorithm = raw.algorithm ?? 'token_bucket';
  if (algorithm === 'token_bucket' || algorithm === 'gcra') return ['requests_per_second', 'burst'];
  if (algorithm === 'concurrency') return ['limit'];
  return ['limit', 'window'];
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Every allow/deny entry of the file, top level and per route. */
function accessEntries(raw: RawConfig): string[] {
  return [...(raw.allow ?? []), ...(raw.deny ?? []), ...raw.routes.flatMap((r) => [...(r.allow ?? []), ...(r.deny ?? [])])];
}
