import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GatewayConfig } from '../config/types.js';
import { parseDuration } from '../config/duration.js';
import type { Logger } from '../observability/logging.js';
import { sha256Bytes } from '../limit/digest.js';
import { adminError } from '../admin/errors.js';
import { errorResponse } from '../admin/schemas.js';
import { newApiKey, newKeyId, SHOWN_PREFIX_LENGTH } from './generate.js';
import { KeyStoreError, type KeyChange, type KeyInfo, type KeyRepository } from './repository.js';
import type { KeyState, KeyTable } from './table.js';
import type { UsageCounter } from './usage.js';
import { createKeyBody, keyCreated, keyDetail, keyIdParam, keyList, keyRotated, keyView, listKeysQuery, rotateKeyBody, updateKeyBody } from './admin-schemas.js';

/** What the admin API uses of the key store (store.ts's PostgresKeyStore). */
export interface KeyAdmin {
  readonly repository: KeyRepository;
  readonly table: KeyTable;
  readonly usage: UsageCounter;
  readonly up: boolean;
  /** Reloads one key into this instance's table (after a change made here). */
  refresh(id: string): Promise<void>;
}

interface Deps {
  readonly config: () => GatewayConfig;
  readonly keys?: KeyAdmin;
  readonly logger: Logger;
}

const DEFAULT_GRACE = '24h';
const OFF = 'keys come from the config file (api_keys); set key_store.type: postgres to manage them here';
const DOWN = 'the key store (PostgreSQL) is unreachable: the gateway serves the keys it holds, and management waits until it is back';
const STATUS: Readonly<Record<KeyStoreError['code'], number>> = { key_exists: 409, key_not_found: 404, key_revoked: 409 };

const errors = { 400: errorResponse, 401: errorResponse, 404: errorResponse, 409: errorResponse, 503: errorResponse };

/**
 * /v1/keys: issue, list, read, change, rotate and revoke API keys in the key
 * store. A key is returned once, when created or rotated; the database holds
 * its SHA-256 and first 8 characters only, and no log or audit line names
 * more than its id. 409 key_store_off when keys come from the config file;
 * 503 key_store_unavailable while PostgreSQL is unreachable.
 */
export function registerKeyRoutes(app: FastifyInstance, deps: Deps): void {
  /** The store, or the reply already sent: off (409) or down (503). */
  const storeOr = (reply: FastifyReply): KeyAdmin | undefined => {
    if (deps.keys === undefined) void adminError(reply, 409, 'key_store_off', { message: OFF });
    else if (!deps.keys.up) void adminError(reply, 503, 'key_store_unavailable', { message: DOWN });
    else return deps.keys;
    return undefined;
  };
  /** Runs a store call, turning what the store refuses into 404/409 and a lost database into 503. */
  const guarded = async <T>(reply: FastifyReply, work: (keys: KeyAdmin) => Promise<T>): Promise<T | FastifyReply> => {
    const keys = storeOr(reply);
    if (keys === undefined) return reply;
    try {
      return await work(keys);
    } catch (err) {
      if (err instanceof KeyStoreError) return adminError(reply, STATUS[err.code] ?? 409, err.code, { message: err.message });
      if (isUnavailable(err)) return adminError(reply, 503, 'key_store_unavailable', { message: DOWN });
      throw err;
    }
  };
  const planProblem = (plan: string) => {
    const plans = Object.keys(deps.config().plans);
    return plans.includes(plan) ? undefined : { path: 'plan', message: `"${plan}" is not a plan of the config (plans: ${plans.join(', ') || 'none'})` };
  };
  const audit = (who: string, action: string, key: KeyInfo, extra: Record<string, unknown> = {}) =>
    deps.logger.info({ audit: action, who, key_id: key.id, plan: key.plan, state: key.state, ...extra }, `admin: ${who} ${action.replace('key_', '')} key ${key.id}`);

  app.post<{ Body: { plan: string; id?: string; expires_in?: string; note?: string } }>(
    '/v1/keys',
    { schema: { body: createKeyBody, response: { 201: keyCreated, ...errors } } },
    async (request, reply) => {
      const { plan, expires_in, note } = request.body;
      const problem = planProblem(plan);
      if (problem) return adminError(reply, 400, 'bad_request', { problems: [problem] });
      return guarded(reply, async (keys) => {
        const key = newApiKey();
        const info = await keys.repository.create({
          id: request.body.id ?? newKeyId(),
          plan,
          note: note ?? '',
          expiresAt: expires_in === undefined ? null : Date.now() + parseDuration(expires_in),
          digest: sha256Bytes(key),
          prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
        });
        await keys.refresh(info.id);
        audit(request.adminId, 'key_created', info, { expires_at: info.expires_at });
        return reply.code(201).send({ ...info, key });
      });
    },
  );

  app.get<{ Querystring: { plan?: string; state?: KeyState; limit?: string; after?: string } }>(
    '/v1/keys',
    { schema: { querystring: listKeysQuery, response: { 200: keyList, ...errors } } },
    async (request, reply) => {
      const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
      if (limit < 1 || limit > 1000) return adminError(reply, 400, 'bad_request', { problems: [{ path: 'limit', message: 'must be 1 to 1000' }] });
      return guarded(reply, (keys) => keys.repository.list({ plan: request.query.plan, state: request.query.state, after: request.query.after, limit }));
    },
  );

  app.get<{ Params: { id: string } }>('/v1/keys/:id', { schema: { params: keyIdParam, response: { 200: keyDetail, ...errors } } }, async (request, reply) =>
    guarded(reply, async (keys) => {
      const detail = await keys.repository.get(request.params.id);
      if (detail === undefined) throw new KeyStoreError('key_not_found', `no key has id "${request.params.id}"`);
      // Requests this instance counted since its last usage write (other instances' are at most a minute behind).
      const pending = keys.usage.pending(detail.id);
      if (pending === undefined) return detail;
      const lastUsed = new Date(Math.max(pending.lastUsedAt, detail.last_used_at === null ? 0 : Date.parse(detail.last_used_at))).toISOString();
      return { ...detail, last_used_at: lastUsed, requests: { last_hour: detail.requests.last_hour + pending.requests, last_day: detail.requests.last_day + pending.requests } };
    }),
  );

  app.patch<{ Params: { id: string }; Body: { plan?: string; expires_in?: string; expires_at?: string | null; disabled?: boolean; note?: string } }>(
    '/v1/keys/:id',
    { schema: { params: keyIdParam, body: updateKeyBody, response: { 200: keyView, ...errors } } },
    async (request, reply) => {
      const body = request.body;
      const problems = [];
      if (body.plan !== undefined) {
        const problem = planProblem(body.plan);
        if (problem) problems.push(problem);
      }
      if (body.expires_in !== undefined && body.expires_at !== undefined) problems.push({ path: 'expires_at', message: 'give expires_in or expires_at, not both' });
      const expiresAt = body.expires_in !== undefined ? Date.now() + parseDuration(body.expires_in) : body.expires_at === null ? null : body.expires_at === undefined ? undefined : Date.parse(body.expires_at);
      if (Number.isNaN(expiresAt)) problems.push({ path: 'expires_at', message: 'is not an ISO 8601 time (2027-01-31T00:00:00Z) or null' });
      if (problems.length > 0) return adminError(reply, 400, 'bad_request', { problems });
      const change: KeyChange = { plan: body.plan, expiresAt, disabled: body.disabled, note: body.note };
      return guarded(reply, async (keys) => {
        const info = await keys.repository.update(request.params.id, change);
        await keys.refresh(info.id);
        audit(request.adminId, 'key_updated', info, { changed: Object.keys(body) });
        return info;
      });
    },
  );

  app.post<{ Params: { id: string }; Body: { grace?: string } | undefined }>(
    '/v1/keys/:id/rotate',
    {
      schema: { params: keyIdParam, body: rotateKeyBody, response: { 201: keyRotated, ...errors } },
      // No body means every default (curl -X POST .../rotate): validated as {}.
      preValidation: (request, _reply, done) => {
        request.body ??= {};
        done();
      },
    },
    async (request, reply) =>
      guarded(reply, async (keys) => {
        const key = newApiKey();
        const graceMs = parseDuration(request.body?.grace ?? DEFAULT_GRACE);
        const { key: info, retiresAt } = await keys.repository.rotate(request.params.id, graceMs, sha256Bytes(key), key.slice(0, SHOWN_PREFIX_LENGTH));
        await keys.refresh(info.id);
        audit(request.adminId, 'key_rotated', info, { previous_retires_at: retiresAt });
        return reply.code(201).send({ ...info, key, previous_retires_at: retiresAt });
      }),
  );

  app.delete<{ Params: { id: string } }>('/v1/keys/:id', { schema: { params: keyIdParam, response: { 200: keyView, ...errors } } }, async (request, reply) =>
    guarded(reply, async (keys) => {
      const info = await keys.repository.revoke(request.params.id);
      await keys.refresh(info.id);
      audit(request.adminId, 'key_revoked', info);
      return info;
    }),
  );
}

/** A failure of the database or the way to it (as opposed to a statement it refused): connection classes 08 and 57P, or a socket error. */
export function isUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || code.startsWith('57P') || /^E[A-Z]+$/.test(code))) return true;
  const message = err instanceof Error ? err.message : '';
  return /Connection terminated|timeout exceeded when trying to connect|connect ECONNREFUSED|Client has encountered a connection error/i.test(message);
}
