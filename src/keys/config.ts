import type { ConfigProblem } from '../config/problems.js';
import { DURATION_PATTERN, parseDuration } from '../config/duration.js';

/**
 * The `key_store:` block: where API keys live. `config` (the default) is the
 * api_keys list of the config file, as before; `postgres` keeps them as data
 * in PostgreSQL, managed through the admin API (/v1/keys) and mirrored into
 * every instance's memory, so the request path never waits on the database.
 */

const duration = { type: 'string', pattern: DURATION_PATTERN } as const;
// Quoted into SQL as an identifier: letters, digits and underscores only, as PostgreSQL folds unquoted names.
const SCHEMA_NAME = '^[a-z_][a-z0-9_]{0,62}$';

export const keyStoreSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    type: { enum: ['config', 'postgres'] },
    postgres: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        // postgres://user:pass@host:5432/db, TLS options (sslmode...) in its query, as pg reads them.
        url: { type: 'string', pattern: '^postgres(ql)?://', maxLength: 4096 },
        schema: { type: 'string', pattern: SCHEMA_NAME },
        // How long a starting gateway waits for its first load before it gives up.
        startup_timeout: duration,
        // The full reload that heals a missed notification.
        resync_interval: duration,
      },
    },
  },
} as const;

export interface RawKeyStore {
  type?: 'config' | 'postgres';
  postgres?: { url: string; schema?: string; startup_timeout?: string; resync_interval?: string };
}

export interface PostgresKeyStoreConfig {
  /** As written (after ${VAR} interpolation): it may hold a password, so it is never logged; `where` is. */
  readonly url: string;
  /** host:port/database, for logs and errors. */
  readonly where: string;
  readonly schema: string;
  readonly startupTimeoutMs: number;
  readonly resyncIntervalMs: number;
}

export type KeyStoreConfig = { readonly type: 'config' } | { readonly type: 'postgres'; readonly postgres: PostgresKeyStoreConfig };

export const KEY_STORE_DEFAULTS = {
  schema: 'throttlegate',
  startup_timeout: '30s',
  // A notification normally arrives within milliseconds; the full reload only heals one lost with a dropped connection.
  resync_interval: '60s',
} as const;

/** The rules a schema cannot say: a postgres block needs type postgres, and a store's keys do not mix with the file's. */
export function checkKeyStore(doc: { key_store?: unknown; api_keys?: unknown; api_keys_file?: unknown }): ConfigProblem[] {
  const raw = doc.key_store;
  if (raw === null || typeof raw !== 'object') return [];
  const { type, postgres } = raw as RawKeyStore;
  const problems: ConfigProblem[] = [];
  if (type === 'postgres' && postgres === undefined) problems.push({ path: 'key_store.postgres', message: 'is required with type postgres (url: postgres://...)' });
  if (type !== 'postgres' && postgres !== undefined) problems.push({ path: 'key_store.type', message: 'must be postgres when key_store.postgres is set' });
  if (type === 'postgres') {
    // Two sources of truth for one key id would make a revoke in the store undone by the file (or the reverse).
    if (Array.isArray(doc.api_keys) && doc.api_keys.length > 0) problems.push({ path: 'api_keys', message: 'cannot be used with key_store.type postgres: keys live in the store (create them with POST /v1/keys, ids kept)' });
    if (doc.api_keys_file !== undefined) problems.push({ path: 'api_keys_file', message: 'cannot be used with key_store.type postgres: keys live in the store (create them with POST /v1/keys, ids kept)' });
    if (postgres !== undefined && typeof postgres.url === 'string') {
      try {
        new URL(postgres.url);
      } catch {
        problems.push({ path: 'key_store.postgres.url', message: 'is not a valid URL (postgres://user:password@host:5432/database)' });
      }
    }
  }
  return problems;
}

export function buildKeyStore(raw: RawKeyStore | undefined): KeyStoreConfig {
  if (raw?.type !== 'postgres' || raw.postgres === undefined) return { type: 'config' };
  const pg = raw.postgres;
  return {
    type: 'postgres',
    postgres: {
      url: pg.url,
      where: whereOf(pg.url),
      schema: pg.schema ?? KEY_STORE_DEFAULTS.schema,
      startupTimeoutMs: parseDuration(pg.startup_timeout ?? KEY_STORE_DEFAULTS.startup_timeout),
      resyncIntervalMs: parseDuration(pg.resync_interval ?? KEY_STORE_DEFAULTS.resync_interval),
    },
  };
}

/** `host:port/database` of a PostgreSQL URL: what logs and errors may show (never the user's password). */
export function whereOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname && u.pathname !== '/' ? u.pathname : '/'}`;
  } catch {
    return '<invalid url>';
  }
}
