import { DURATION_PATTERN } from '../config/duration.js';

/**
 * The JSON schemas of /v1/keys: Fastify validates with them and the admin
 * API's OpenAPI document (admin/openapi.ts) publishes the same objects.
 */
const duration = { type: 'string', pattern: DURATION_PATTERN, description: 'a duration: 500ms, 10s, 1m, 1h, 90d' } as const;
const keyId = { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,64}$', description: 'the key id: letters, digits and . _ : -, at most 64' } as const;
const isoTime = { type: ['string', 'null'], description: 'ISO 8601; null for never' } as const;
const state = { enum: ['active', 'disabled', 'expired', 'revoked'] } as const;

export const keyIdParam = { type: 'object', required: ['id'], properties: { id: keyId } } as const;

export const createKeyBody = {
  type: 'object',
  additionalProperties: false,
  required: ['plan'],
  properties: {
    plan: { type: 'string', minLength: 1, maxLength: 64, description: 'a plan of the config (plans:)' },
    id: { ...keyId, description: 'the key id (its clients are `id:<id>` in logs and the admin API); generated when absent' },
    expires_in: duration,
    note: { type: 'string', maxLength: 1024 },
  },
} as const;

export const updateKeyBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    plan: { type: 'string', minLength: 1, maxLength: 64 },
    expires_in: { ...duration, description: 'expires this long from now' },
    expires_at: { type: ['string', 'null'], maxLength: 64, description: 'ISO 8601 expiry; null: never expires' },
    disabled: { type: 'boolean', description: 'true: refused (401) until enabled again' },
    note: { type: 'string', maxLength: 1024 },
  },
} as const;

export const rotateKeyBody = {
  type: 'object',
  additionalProperties: false,
  properties: { grace: { ...duration, description: 'how long the key in use keeps working beside the new one (default 24h; 0s ends it at once)' } },
} as const;

export const listKeysQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    plan: { type: 'string', minLength: 1, maxLength: 64 },
    state,
    limit: { type: 'string', pattern: '^[0-9]{1,4}$', description: 'keys per page, 1 to 1000 (default 100)' },
    after: { ...keyId, description: 'the `next` of the previous page' },
  },
} as const;

export const keyView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    plan: { type: 'string' },
    state,
    prefix: { type: 'string', description: "the key's first 8 characters (never the key)" },
    note: { type: 'string' },
    created_at: { type: 'string' },
    expires_at: isoTime,
    last_used_at: { ...isoTime, description: 'ISO 8601, written at most once a minute; null: never used' },
  },
} as const;

export const keyCreated = {
  type: 'object',
  properties: { ...keyView.properties, key: { type: 'string', description: 'the key itself: shown this once, never stored (only its SHA-256 is)' } },
} as const;

export const keyRotated = {
  type: 'object',
  properties: { ...keyCreated.properties, previous_retires_at: { type: 'string', description: 'when the key it replaces stops working' } },
} as const;

export const keyDetail = {
  type: 'object',
  properties: {
    ...keyView.properties,
    requests: { type: 'object', properties: { last_hour: { type: 'integer' }, last_day: { type: 'integer' } } },
    retiring: { type: 'array', items: { type: 'object', properties: { prefix: { type: 'string' }, retires_at: { type: 'string' } } } },
  },
} as const;

export const keyList = {
  type: 'object',
  properties: { keys: { type: 'array', items: keyView }, next: { type: ['string', 'null'], description: 'pass as `after` for the next page; null on the last' } },
} as const;
