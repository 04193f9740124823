import { DURATION_PATTERN } from '../config/duration.js';

/**
 * The admin API's JSON schemas: Fastify validates requests with them (ajv),
 * and openapi.ts publishes the very same objects, so the document cannot
 * drift from what is enforced.
 */
const duration = { type: 'string', pattern: DURATION_PATTERN, description: 'a duration: 500ms, 10s, 1m, 1h, 1d' } as const;

export const errorResponse = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'string',
      description: 'a stable token (unauthorized, bad_request, not_found, unknown_policy, rate_limited; adaptive_off, learning_disabled, client_not_seen for adaptive protection)',
    },
    problems: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
    message: { type: 'string', description: 'what was wrong, e.g. a client key in no accepted form (the forms are listed)' },
  },
} as const;

export const clientKeyParam = {
  type: 'object',
  required: ['key'],
  properties: {
    key: {
      type: 'string',
      minLength: 1,
      maxLength: 512,
      description:
        'a client, in any form an operator has: the API key as sent, key:<12 hex> (log label), sha256:<64 hex>, id:<api_keys id>, ip:<address> (or ip:<ipv6 net>/<len>), jwt:<12 hex> (log label)',
    },
  },
} as const;

export const limitOverrideBody = {
  type: 'object',
  additionalProperties: false,
  required: ['requests_per_second', 'burst'],
  properties: { requests_per_second: { type: 'number', exclusiveMinimum: 0 }, burst: { type: 'integer', minimum: 1 }, expires_in: duration },
} as const;
export const blockOverrideBody = {
  type: 'object',
  additionalProperties: false,
  required: ['block'],
  properties: { block: { const: true }, expires_in: duration },
} as const;
/** A limit, or a block: a body with `block` is read as a block, any other as a limit (so errors name that form's fields). */
export const overrideBody = { oneOf: [limitOverrideBody, blockOverrideBody] } as const;

const limitState = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    algorithm: { type: 'string' },
    scope: { type: 'string' },
    mode: { type: 'string' },
    limit: { type: 'number' },
    remaining: { type: 'integer' },
    reset: { type: 'integer', description: 'seconds until the limit is back to a new client\'s' },
    requests_per_second: { type: 'number', description: 'token_bucket and gcra: the refill rate' },
  },
} as const;

export const overrideView = {
  type: ['object', 'null'],
  properties: {
    kind: { enum: ['limit', 'block'] },
    requests_per_second: { type: 'number' },
    burst: { type: 'integer' },
    expires_at: { type: ['string', 'null'], description: 'ISO 8601, null for never' },
    set_by: { type: 'string' },
  },
} as const;

export const limitsResponse = {
  type: 'object',
  properties: {
    key: { type: 'string', description: "the client's label (never a raw key)" },
    key_id: { type: ['string', 'null'] },
    plan: { type: ['string', 'null'] },
    seen: { type: 'boolean', description: 'the store holds live state for this client; false: the numbers are a new client\'s' },
    hint: { type: 'string' },
    override: overrideView,
    policies: {
      type: 'array',
      items: { type: 'object', properties: { policy: { type: 'string' }, routes: { type: 'array', items: { type: 'string' } }, limits: { type: 'array', items: limitState } } },
    },
  },
} as const;

export const checkBody = {
  type: 'object',
  additionalProperties: false,
  required: ['key'],
  properties: {
    key: { type: 'string', minLength: 1, maxLength: 512 },
    policy: { type: 'string', minLength: 1, description: '"default", a route path with its own policy, or plan:<name>; default "default"' },
    cost: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    dry_run: { type: 'boolean', description: 'decide without consuming' },
  },
} as const;

export const checkResponse = {
  type: 'object',
  required: ['allowed', 'remaining', 'limit', 'reset', 'retry_after'],
  properties: {
    allowed: { type: 'boolean' },
    remaining: { type: 'integer' },
    limit: { type: 'number' },
    reset: { type: 'integer' },
    retry_after: { type: 'integer' },
    policy: { type: 'string' },
  },
} as const;

export const explainQuery = {
  type: 'object',
  required: ['path'],
  properties: {
    method: { type: 'string', pattern: '^[A-Za-z]{1,16}$' },
    path: { type: 'string', minLength: 1, maxLength: 8192 },
    ip: { type: 'string', minLength: 1, maxLength: 64 },
    host: { type: 'string', maxLength: 253 },
  },
  // header.<name>=value pairs are the request's headers.
  patternProperties: { '^header\\.': { type: 'string' } },
  additionalProperties: false,
} as const;

const contribution = {
  type: 'object',
  properties: { feature: { type: 'string' }, value: { type: 'number' }, contribution: { type: 'number', description: 'weight x value, in logits' } },
} as const;

/** A client's risk as adaptive protection assessed it: score 0..100, band, the reason code of a band that acts, the three features that pushed it up most. */
export const riskView = {
  type: 'object',
  properties: {
    score: { type: 'integer' },
    band: { type: 'string', enum: ['trusted', 'normal', 'suspicious', 'blocked'] },
    reason: { type: ['string', 'null'], description: 'a TG_RISK_* code for suspicious and blocked; null otherwise' },
    top: { type: 'array', items: contribution },
  },
} as const;

export const explainResponse = {
  type: 'object',
  properties: {
    request: { type: 'object', additionalProperties: true },
    route: { type: ['object', 'null'], additionalProperties: true },
    refusal: { type: ['string', 'null'], description: 'why no route serves it: bad_request, not_found, method_not_allowed, payload_too_large; for /health, /ready, /metrics: reserved, or not_ready (/ready answers 503)' },
    answer: { type: ['object', 'null'], additionalProperties: true, description: 'the body /health or /ready would answer' },
    client: { type: ['object', 'null'], properties: { label: { type: 'string' }, key_id: { type: ['string', 'null'] }, plan: { type: ['string', 'null'] }, verified: { type: 'boolean' } } },
    override: overrideView,
    decision: { type: 'string', description: 'what the gateway would answer now: the access log decision' },
    status: { type: 'integer' },
    limits: { type: 'array', items: { ...limitState, properties: { ...limitState.properties, allowed: { type: 'boolean' } } } },
    risk: {
      ...riskView,
      type: ['object', 'null'],
      description: 'adaptive protection\'s assessment of the client now (a client never seen: from the request\'s headers); null when adaptive is off or does not assess this request',
    },
  },
} as const;

export const feedbackBody = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'label'],
  properties: {
    key: { ...clientKeyParam.properties.key },
    label: { type: 'string', enum: ['good', 'bad'], description: 'good: this client is legitimate; bad: it is abusive' },
  },
} as const;

export const feedbackResponse = {
  type: 'object',
  properties: {
    key: { type: 'string', description: "the client's label (never a raw key)" },
    label: { type: 'string', enum: ['good', 'bad'] },
    score_before: { type: 'integer', description: "the client's score on its features now, before the update" },
    score_after: { type: 'integer', description: 'the same features scored by the updated weights' },
    weights_version: { type: 'string', description: '<shipped version>+<updates learned>' },
  },
} as const;

export const clientsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sort: { type: 'string', enum: ['risk', 'requests', 'refusals'], description: 'risk (default): last score; requests; refusals by its own limits' },
    limit: { type: 'string', pattern: '^(1000|[1-9][0-9]{0,2})$', description: 'how many clients, 1 to 1000 (default 50)' },
  },
} as const;

const isoTime = { type: ['string', 'null'], description: 'ISO 8601' } as const;
const clientCommon = {
  client: { type: 'string', description: "the client's label (never a raw key)" },
  score: { type: ['integer', 'null'], description: 'its score when its last request was assessed' },
  band: { type: ['string', 'null'], description: 'its band (null: never assessed, e.g. an override holds it)' },
  reason: riskView.properties.reason,
  top: riskView.properties.top,
  requests: { type: 'integer', description: 'requests seen since its features were (last) remembered' },
  refused: { type: 'integer', description: 'of those, refused by its own limits' },
  assessed_at: isoTime,
} as const;

export const clientsResponse = {
  type: 'object',
  properties: {
    sort: { type: 'string' },
    tracked: { type: 'integer', description: 'clients whose features are held' },
    clients: { type: 'array', items: { type: 'object', properties: clientCommon } },
  },
} as const;

export const clientResponse = {
  type: 'object',
  properties: {
    ...clientCommon,
    features: { type: ['object', 'null'], additionalProperties: { type: 'number' }, description: 'feature name -> normalised value in [0, 1], now; null once forgotten' },
    score_now: { type: ['integer', 'null'], description: 'its features now scored by the current weights (feedback moves it at once; its band moves at its next request)' },
    weights_version: { type: 'string' },
    history: {
      type: 'array',
      description: 'its last band changes (at most 8), oldest first',
      items: { type: 'object', properties: { at: isoTime, from: { type: 'string' }, to: { type: 'string' }, score: { type: 'integer' } } },
    },
  },
} as const;

export const routesResponse = {
  type: 'object',
  properties: { routes: { type: 'array', items: { type: 'object', additionalProperties: true } }, plans: { type: 'object', additionalProperties: true } },
} as const;
