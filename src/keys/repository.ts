import type { ClientBase, Pool, PoolClient } from 'pg';

type Queryable = Pick<ClientBase, 'query'>;
import { ident } from './migrate.js';
import type { KeyRow, KeyState } from './table.js';
import type { KeyUsage } from './usage.js';

/** A key as the admin API shows it: never the key, only its first characters. */
export interface KeyInfo {
  readonly id: string;
  readonly plan: string;
  readonly state: KeyState;
  /** The current secret's first 8 characters (`tg_` and five more). */
  readonly prefix: string;
  readonly note: string;
  readonly created_at: string;
  readonly expires_at: string | null;
  readonly last_used_at: string | null;
}

export interface KeyDetail extends KeyInfo {
  readonly requests: { last_hour: number; last_day: number };
  /** Secrets a rotation retires, still working until retires_at. */
  readonly retiring: { prefix: string; retires_at: string }[];
}

export type KeyStoreErrorCode = 'key_exists' | 'key_not_found' | 'key_revoked';

/** A management call the store refuses for what it asks, not for its health: answered 404/409 by the admin API. */
export class KeyStoreError extends Error {
  constructor(
    readonly code: KeyStoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface NewKey {
  readonly id: string;
  readonly plan: string;
  readonly note: string;
  /** Epoch ms; null: never. */
  readonly expiresAt: number | null;
  /** SHA-256 of the key: all the database ever holds of it, with its first 8 characters. */
  readonly digest: Buffer;
  readonly prefix: string;
}

export interface KeyChange {
  readonly plan?: string;
  /** Epoch ms; null clears the expiry. */
  readonly expiresAt?: number | null;
  readonly disabled?: boolean;
  readonly note?: string;
}

export interface ListQuery {
  readonly plan?: string;
  readonly state?: KeyState;
  readonly limit: number;
  /** Keys after this id (ids are the page order). */
  readonly after?: string;
}

// The state a key shows: an active key past its expiry is expired.
const STATE = `CASE WHEN k.state = 'active' AND k.expires_at IS NOT NULL AND k.expires_at <= now() THEN 'expired' ELSE k.state END`;
const CURRENT_PREFIX = `(SELECT s.prefix FROM %S.api_key_secrets s WHERE s.key_id = k.id AND s.retires_at IS NULL ORDER BY s.created_at DESC LIMIT 1)`;
// Secrets retired longer ago than this are not loaded: their key would be refused either way (as unknown, not as dead).
const RETIRED_KEPT = `interval '30 days'`;

/**
 * Every statement the key store runs, against the tables of migrations.ts in
 * one schema. Management calls (the admin API) and the loads that feed each
 * instance's KeyTable; nothing here is on the request path.
 */
export class KeyRepository {
  readonly #s: string;
  readonly #info: string;

  constructor(
    private readonly pool: Pool,
    schema: string,
  ) {
    this.#s = ident(schema);
    this.#info = `k.id, k.plan, ${STATE} AS state, COALESCE(${CURRENT_PREFIX.replace('%S', this.#s)}, '') AS prefix, k.note, k.created_at, k.expires_at, k.last_used_at`;
  }

  /**
   * Every key's secrets, for a full load (times as epoch ms), on `via` (the
   * store's listener connection). Not on a pooled connection the pool has
   * just opened: pg keeps that connection's first result reachable until the
   * connection closes, 12 MB for 100,000 keys.
   */
  async loadAll(via: Queryable = this.pool): Promise<KeyRow[]> {
    return this.#rows(via, '', []);
  }

  /** The secrets of some keys (a notification named them). */
  async loadKeys(ids: readonly string[]): Promise<KeyRow[]> {
    return this.#rows(this.pool, 'AND k.id = ANY($1::text[])', [ids]);
  }

  async #rows(via: Queryable, where: string, params: unknown[]): Promise<KeyRow[]> {
    // Arrays, not objects, and the digest as hex text: 100,000 rows parse in a fraction of the time.
    const result = await via.query<[string, string, KeyRow['state'], string | null, string, string | null]>({
      text: `SELECT k.id, k.plan, k.state, (extract(epoch FROM k.expires_at) * 1000)::float8, encode(s.digest, 'hex'), (extract(epoch FROM s.retires_at) * 1000)::float8
             FROM ${this.#s}.api_keys k JOIN ${this.#s}.api_key_secrets s ON s.key_id = k.id
             WHERE (s.retires_at IS NULL OR s.retires_at > now() - ${RETIRED_KEPT}) ${where}`,
      values: params,
      rowMode: 'array',
    });
    return result.rows.map(([id, plan, state, expiresAt, digest, retiresAt]) => ({
      id,
      plan,
      state,
      expiresAt: expiresAt === null ? null : Number(expiresAt),
      digest,
      retiresAt: retiresAt === null ? null : Number(retiresAt),
    }));
  }

  async create(key: NewKey): Promise<KeyInfo> {
    return this.#transaction(async (client) => {
      const inserted = await client.query(
        `INSERT INTO ${this.#s}.api_keys (id, plan, note, expires_at) VALUES ($1, $2, $3, to_timestamp($4::float8 / 1000)) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [key.id, key.plan, key.note, key.expiresAt],
      );
      if (inserted.rowCount === 0) throw new KeyStoreError('key_exists', `a key with id "${key.id}" exists (ids are never reused, even once revoked)`);
      await client.query(`INSERT INTO ${this.#s}.api_key_secrets (digest, key_id, prefix) VALUES ($1, $2, $3)`, [key.digest, key.id, key.prefix]);
      return this.#info1(client, key.id);
    });
  }

  async list(query: ListQuery): Promise<{ keys: KeyInfo[]; next: string | null }> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (query.plan !== undefined) where.push(`k.plan = $${values.push(query.plan)}`);
    if (query.state !== undefined) where.push(`${STATE} = $${values.push(query.state)}`);
    if (query.after !== undefined) where.push(`k.id > $${values.push(query.after)}`);
    const { rows } = await this.pool.query<KeyInfoRow>(
      `SELECT ${this.#info} FROM ${this.#s}.api_keys k ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY k.id LIMIT $${values.push(query.limit + 1)}`,
      values,
    );
    const more = rows.length > query.limit;
    const keys = rows.slice(0, query.limit).map(infoOf);
    return { keys, next: more ? (keys[keys.length - 1] as KeyInfo).id : null };
  }

  async get(id: string): Promise<KeyDetail | undefined> {
    const { rows } = await this.pool.query<KeyInfoRow & { last_hour: string; last_day: string }>(
      `SELECT ${this.#info},
         (SELECT COALESCE(sum(u.requests), 0) FROM ${this.#s}.api_key_usage u WHERE u.key_id = k.id AND u.minute > now() - interval '1 hour') AS last_hour,
         (SELECT COALESCE(sum(u.requests), 0) FROM ${this.#s}.api_key_usage u WHERE u.key_id = k.id AND u.minute > now() - interval '1 day') AS last_day
       FROM ${this.#s}.api_keys k WHERE k.id = $1`,
      [id],
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    const retiring = await this.pool.query<{ prefix: string; retires_at: Date }>(
      `SELECT prefix, retires_at FROM ${this.#s}.api_key_secrets WHERE key_id = $1 AND retires_at > now() ORDER BY retires_at`,
      [id],
    );
    return {
      ...infoOf(row),
      requests: { last_hour: Number(row.last_hour), last_day: Number(row.last_day) },
      retiring: retiring.rows.map((r) => ({ prefix: r.prefix, retires_at: r.retires_at.toISOString() })),
    };
  }

  async update(id: string, change: KeyChange): Promise<KeyInfo> {
    return this.#transaction(async (client) => {
      await this.#lockLive(client, id);
      const sets: string[] = ['updated_at = now()'];
      const values: unknown[] = [id];
      if (change.plan !== undefined) sets.push(`plan = $${values.push(change.plan)}`);
      if (change.note !== undefined) sets.push(`note = $${values.push(change.note)}`);
      if (change.expiresAt !== undefined) sets.push(`expires_at = to_timestamp($${values.push(change.expiresAt)}::float8 / 1000)`);
      if (change.disabled !== undefined) sets.push(`state = $${values.push(change.disabled ? 'disabled' : 'active')}`);
      await client.query(`UPDATE ${this.#s}.api_keys SET ${sets.join(', ')} WHERE id = $1`, values);
      return this.#info1(client, id);
    });
  }

  /** A new secret for the key; the ones it had keep working until `graceMs` from now (0: at once). */
  async rotate(id: string, graceMs: number, digest: Buffer, prefix: string): Promise<{ key: KeyInfo; retiresAt: string }> {
    return this.#transaction(async (client) => {
      await this.#lockLive(client, id);
      const { rows } = await client.query<{ retires_at: Date }>(
        `UPDATE ${this.#s}.api_key_secrets SET retires_at = LEAST(COALESCE(retires_at, 'infinity'), now() + $2 * interval '1 millisecond')
         WHERE key_id = $1 AND (retires_at IS NULL OR retires_at > now()) RETURNING retires_at`,
        [id, graceMs],
      );
      await client.query(`INSERT INTO ${this.#s}.api_key_secrets (digest, key_id, prefix) VALUES ($1, $2, $3)`, [digest, id, prefix]);
      await client.query(`UPDATE ${this.#s}.api_keys SET updated_at = now() WHERE id = $1`, [id]);
      const latest = rows.reduce((at, r) => Math.max(at, r.retires_at.getTime()), 0);
      return { key: await this.#info1(client, id), retiresAt: new Date(latest).toISOString() };
    });
  }

  /** Revoked for good; revoking a revoked key changes nothing. */
  async revoke(id: string): Promise<KeyInfo> {
    return this.#transaction(async (client) => {
      const found = await client.query(`SELECT state FROM ${this.#s}.api_keys WHERE id = $1 FOR UPDATE`, [id]);
      if (found.rowCount === 0) throw new KeyStoreError('key_not_found', `no key has id "${id}"`);
      await client.query(`UPDATE ${this.#s}.api_keys SET state = 'revoked', revoked_at = COALESCE(revoked_at, now()), updated_at = now() WHERE id = $1`, [id]);
      return this.#info1(client, id);
    });
  }

  /** Adds one flush of usage: one statement for the counts, one for last use, however many keys. */
  async writeUsage(batch: ReadonlyMap<string, KeyUsage>): Promise<void> {
    if (batch.size === 0) return;
    const ids = [...batch.keys()];
    const counts = ids.map((id) => (batch.get(id) as KeyUsage).requests);
    const last = ids.map((id) => (batch.get(id) as KeyUsage).lastUsedAt);
    await this.#transaction(async (client) => {
      await client.query(
        `INSERT INTO ${this.#s}.api_key_usage (key_id, minute, requests)
         SELECT u.id, date_trunc('minute', now()), u.n FROM unnest($1::text[], $2::bigint[]) AS u(id, n) JOIN ${this.#s}.api_keys k ON k.id = u.id
         ON CONFLICT (key_id, minute) DO UPDATE SET requests = ${this.#s}.api_key_usage.requests + EXCLUDED.requests`,
        [ids, counts],
      );
      await client.query(
        `UPDATE ${this.#s}.api_keys k SET last_used_at = GREATEST(k.last_used_at, to_timestamp(u.at / 1000))
         FROM unnest($1::text[], $2::float8[]) AS u(id, at) WHERE k.id = u.id`,
        [ids, last],
      );
    });
  }

  /** Drops per-minute usage older than two days (GET answers the last day). */
  async pruneUsage(): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.#s}.api_key_usage WHERE minute < now() - interval '2 days'`);
  }

  async #lockLive(client: PoolClient, id: string): Promise<void> {
    const { rows } = await client.query<{ state: string }>(`SELECT state FROM ${this.#s}.api_keys WHERE id = $1 FOR UPDATE`, [id]);
    const row = rows[0];
    if (row === undefined) throw new KeyStoreError('key_not_found', `no key has id "${id}"`);
    if (row.state === 'revoked') throw new KeyStoreError('key_revoked', `key "${id}" is revoked, and a revoked key stays revoked`);
  }

  async #info1(client: PoolClient, id: string): Promise<KeyInfo> {
    const { rows } = await client.query<KeyInfoRow>(`SELECT ${this.#info} FROM ${this.#s}.api_keys k WHERE k.id = $1`, [id]);
    return infoOf(rows[0] as KeyInfoRow);
  }

  async #transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // pg-pool drops its own error listener while a connection is checked out: a server that goes away
    // mid-transaction would emit 'error' on a client nobody listens to, and that crashes the process.
    let broken: Error | undefined;
    const onError = (err: Error) => {
      broken = err;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      broken ??= isBrokenConnection(err) ? (err as Error) : undefined;
      throw err;
    } finally {
      client.off('error', onError);
      // A broken connection is discarded, not handed to the next caller.
      client.release(broken);
    }
  }
}

interface KeyInfoRow {
  id: string;
  plan: string;
  state: KeyState;
  prefix: string;
  note: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
}

function infoOf(row: KeyInfoRow): KeyInfo {
  return {
    id: row.id,
    plan: row.plan,
    state: row.state,
    prefix: row.prefix,
    note: row.note,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
  };
}

/** A statement that failed because the connection did (the server went away), not because the database refused it. */
function isBrokenConnection(err: unknown): boolean {
  // What the store refused for what was asked (404, 409): the connection is fine.
  if (err instanceof KeyStoreError) return false;
  const code = (err as { code?: unknown }).code;
  return !(typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57P'));
}
