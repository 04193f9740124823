import { DURATION_PATTERN } from './duration.js';
import { BALANCE_KINDS, PROXIED_METHODS } from './defaults.js';
import { ALGORITHM_NAMES } from '../limit/algorithms/types.js';
import { adaptiveSchema } from '../adaptive/config.js';
import { adaptiveConcurrencySchema } from '../adaptive/concurrency/config.js';
import { tracingSchema } from '../tracing/config.js';
import { keyStoreSchema } from '../keys/config.js';

/**
 * JSON Schema of configs/config.yaml. Every object is closed
 * (`additionalProperties: false`) so a misspelled key is an error, never a silent
 * default. Defaults are NOT declared here: defaults.ts applies them after
 * validation so the caller's object is never mutated.
 */

// A header field name as RFC 9110 `token` defines it.
const HEADER_TOKEN = "[A-Za-z0-9!#$%&'*+.^_`|~-]+";
// A query parameter name: unreserved characters (RFC 3986). A claim: a name or a dotted path.
const KEY_SOURCE = `^(ip|header:${HEADER_TOKEN}|query:[A-Za-z0-9._~-]+|jwt:[A-Za-z0-9_$.:/-]+)$`;
// Route paths are canonical: segments of RFC 3986 pchars (no `%`), no trailing slash.
const ROUTE_PATH = "^/$|^(/[A-Za-z0-9._~!$&'()*+,;=:@-]+)+$";

const REDIS_URL = '^rediss?://';
const HTTP_URL = '^https?://';
// A DNS name, or `*.` and a DNS name for any subdomain of it.
const HOST = '^(\\*\\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$';

const duration = { type: 'string', pattern: DURATION_PATTERN } as const;
const count = { type: 'integer', minimum: 1 } as const;

const closed = <P extends Record<string, unknown>>(properties: P, required: readonly string[] = []) =>
  ({ type: 'object', additionalProperties: false, required, properties }) as const;

/** `upstream:` as a pool (a plain URL string is the other form). */
const upstreamPool = closed(
  {
    targets: {
      type: 'array',
      minItems: 1,
      items: closed({ url: { type: 'string', pattern: HTTP_URL }, weight: { type: 'integer', minimum: 1, maximum: 1000 } }, ['url']),
    },
    balance: { enum: [...BALANCE_KINDS] },
    health_check: closed(
      {
        path: { type: 'string', pattern: '^/' },
        interval: duration,
        timeout: duration,
        healthy_after: count,
        unhealthy_after: count,
      },
      ['path'],
    ),
    passive: closed({ eject_after: count, eject_for: duration }),
    retries: { type: 'integer', minimum: 0, maximum: 10 },
    circuit_breaker: closed({
      error_rate: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      min_requests: count,
      window: duration,
      open_for: duration,
    }),
  },
  ['targets'],
);

// Every field any algorithm takes; validate.ts checks which ones each algorithm needs.
const limitFields = {
  algorithm: { enum: [...ALGORITHM_NAMES] },
  requests_per_second: { type: 'number', exclusiveMinimum: 0 },
  burst: { type: 'integer', minimum: 1 },
  limit: { type: 'integer', minimum: 1 },
  window: duration,
  scope: { enum: ['client', 'route', 'global'] },
  mode: { enum: ['enforce', 'shadow'] },
  lease: duration,
} as const;
const limitList = { type: 'array', minItems: 1, maxItems: 16, items: closed(limitFields) } as const;

const rateLimitFields = {
  ...limitFields,
  limits: limitList,
  key: {
    type: 'array',
    minItems: 1,
    items: { type: 'string', pattern: KEY_SOURCE },
  },
  ipv6_subnet: { type: 'integer', minimum: 1, maximum: 128 },
  headers: {
    type: 'object',
    additionalProperties: false,
    properties: {
      legacy: { type: 'boolean' },
      draft: { type: 'boolean' },
    },
  },
  on_limit: closed({ delay_up_to: duration, max_queue: { type: 'integer', minimum: 1, maximum: 10_000 } }, ['delay_up_to']),
  // Every key an address presents that api_keys does not verify also shares the client limits times `multiplier`; false: off.
  unverified_key_envelope: { anyOf: [{ const: false }, closed({ multiplier: { type: 'integer', minimum: 1, maximum: 1_000_000 } }, ['multiplier'])] },
} as const;

// An entry of allow: / deny: is an address, a CIDR or an API key id; validate.ts tells them apart.
const accessList = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 128 } } as const;

const KEY_ID = '^[A-Za-z0-9._:-]{1,64}$';
/** One entry of api_keys (also the shape of each entry of api_keys_file). */
export const apiKeySchema = closed(
  { id: { type: 'string', pattern: KEY_ID }, hash: { type: 'string', pattern: '^sha256:[0-9a-fA-F]{64}$' }, plan: { type: 'string', minLength: 1 } },
  ['id', 'hash'],
);

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['routes'],
  properties: {
    server: {
      type: 'object',
      additionalProperties: false,
      properties: {
        host: { type: 'string', minLength: 1 },
        port: { type: 'integer', minimum: 1, maximum: 65535 },
        trust_proxy: {
          anyOf: [
            { type: 'boolean' },
            { type: 'integer', minimum: 1 },
            { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
          ],
        },
        shutdown_grace_ms: { type: 'integer', minimum: 0 },
        workers: { anyOf: [{ type: 'integer', minimum: 1, maximum: 256 }, { const: 'auto' }] },
        headers_timeout_ms: { type: 'integer', minimum: 1 },
        request_timeout_ms: { type: 'integer', minimum: 1 },
        keep_alive_timeout_ms: { type: 'integer', minimum: 1 },
        max_header_bytes: { type: 'integer', minimum: 1024 },
        max_body_bytes: { type: 'integer', minimum: 0 },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      properties: {
        type: { enum: ['memory', 'redis'] },
        redis: {
          type: 'object',
          additionalProperties: false,
          properties: {
            url: {
              anyOf: [
                { type: 'string', pattern: REDIS_URL },
                { type: 'array', minItems: 1, items: { type: 'string', pattern: REDIS_URL } },
              ],
            },
            key_prefix: { type: 'string', maxLength: 64 },
            timeout_ms: { type: 'integer', minimum: 1, maximum: 60000 },
            on_error: { enum: ['local', 'open', 'closed'] },
          },
        },
        memory: {
          type: 'object',
          additionalProperties: false,
          properties: {
            max_keys: { type: 'integer', minimum: 1 },
            sweep_interval_ms: { type: 'integer', minimum: 10 },
          },
        },
      },
    },
    rate_limit: { type: 'object', additionalProperties: false, properties: rateLimitFields },
    plans: {
      type: 'object',
      propertyNames: { pattern: '^[A-Za-z0-9_-]{1,32}$' },
      additionalProperties: closed({ limits: limitList }, ['limits']),
    },
    api_keys: { type: 'array', items: apiKeySchema },
    api_keys_file: { type: 'string', minLength: 1 },
    jwt: closed(
      {
        algorithm: { enum: ['HS256', 'RS256', 'ES256'] },
        secret: { type: 'string', minLength: 16 },
        public_key: { type: 'string', minLength: 1 },
        public_key_file: { type: 'string', minLength: 1 },
        issuer: { type: 'string', minLength: 1 },
        audience: { type: 'string', minLength: 1 },
        clock_tolerance: duration,
      },
      ['algorithm'],
    ),
    allow: accessList,
    deny: accessList,
    adaptive: adaptiveSchema,
    tracing: tracingSchema,
    key_store: keyStoreSchema,
    admin: closed({
      host: { type: 'string', minLength: 1 },
      port: { type: 'integer', minimum: 0, maximum: 65535 },
      // One token (audited as id "admin"), or several with ids for the audit lines.
      token: { type: 'string', minLength: 16 },
      tokens: { type: 'array', minItems: 1, items: closed({ id: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$' }, token: { type: 'string', minLength: 16 } }, ['id', 'token']) },
      expose_metrics: { type: 'boolean' },
      // The web dashboard at /dashboard/ on the admin listener (on by default with the admin API).
      dashboard: { type: 'boolean' },
      // Failed authentications per client address: `burst` at once, then `per_minute`; past them, 429 until they decay.
      auth_failures: closed({ burst: { type: 'integer', minimum: 1, maximum: 1000 }, per_minute: { type: 'number', exclusiveMinimum: 0, maximum: 60000 } }),
    }),
    routes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['path', 'upstream'],
        properties: {
          path: { type: 'string', pattern: ROUTE_PATH },
          host: { type: 'string', pattern: HOST, maxLength: 253 },
          methods: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...PROXIED_METHODS] } },
          upstream: { anyOf: [{ type: 'string', pattern: HTTP_URL }, upstreamPool] },
          strip_prefix: { type: 'boolean' },
          rewrite: closed({ prefix: { type: 'string', pattern: ROUTE_PATH } }, ['prefix']),
          timeout_ms: { type: 'integer', minimum: 1 },
          tls_verify: { type: 'boolean' },
          rate_limit: {
            anyOf: [
              { const: false },
              { type: 'object', additionalProperties: false, properties: rateLimitFields },
            ],
          },
          cost: { type: 'integer', minimum: 1, maximum: 1_000_000 },
          require_api_key: { type: 'boolean' },
          // false: risk scores never touch this route (adaptive:, when on, applies to every other route).
          adaptive: { type: 'boolean' },
          // true: a login endpoint; its 401/403 answers count as failed logins (adaptive.failed_logins: a weak label).
          login: { type: 'boolean' },
          // true, or the gradient controller's parameters: shed the lowest-trust requests first when the upstream slows.
          adaptive_concurrency: adaptiveConcurrencySchema,
          allow: accessList,
          deny: accessList,
        },
      },
    },
  },
} as const;
