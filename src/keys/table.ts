import { digestOf } from '../limit/keys.js';
import { DEAD_KEY, type ApiKeyLookup, type KnownApiKey } from '../limit/api-keys.js';

/** A key's state as the admin API and the api_keys gauge show it: `expired` is `active` past its expiry. */
export type KeyState = 'active' | 'disabled' | 'expired' | 'revoked';
export const KEY_STATES: readonly KeyState[] = ['active', 'disabled', 'expired', 'revoked'];

/** One secret of one key, as the store's load query returns it (times in epoch ms, null: never). */
export interface KeyRow {
  readonly id: string;
  readonly plan: string;
  readonly state: 'active' | 'disabled' | 'revoked';
  readonly expiresAt: number | null;
  /** Lower-case hex SHA-256 of the secret. */
  readonly digest: string;
  /** When a rotation retires this secret; null: the key's current one. */
  readonly retiresAt: number | null;
}

// One string per state, not one per row as the driver returns them.
const STATE_NAMES: Readonly<Record<KeyRow['state'], KeyRow['state']>> = { active: 'active', disabled: 'disabled', revoked: 'revoked' };

/** What identification gets for a live key (KnownApiKey: id and plan), plus what decides whether it is live. */
class KeyRecord implements KnownApiKey {
  constructor(
    readonly id: string,
    readonly plan: string,
    readonly state: KeyRow['state'],
    /** Epoch ms; Infinity: never expires. */
    readonly expiresAt: number,
    /** Every digest this key answers to (its current secret, and those a rotation has not yet retired). */
    readonly digests: string[],
  ) {}

  stateAt(now: number): KeyState {
    return this.state === 'active' && now >= this.expiresAt ? 'expired' : this.state;
  }
}

/** A secret a rotation retires: it works, as its key does, until `retiresAt`. The current secret maps to its record directly. */
class RetiringSecret {
  constructor(
    readonly record: KeyRecord,
    readonly retiresAt: number,
  ) {}
}

/**
 * Every instance's copy of the key store: digest -> key, held in memory so
 * the request path never waits on PostgreSQL (sync.ts keeps it current).
 * A key the store knows but that no longer works (disabled, expired, revoked,
 * or a secret past its rotation grace) is DEAD_KEY, not unknown: the gateway
 * answers it 401 instead of treating its client as anonymous. Presented keys
 * are found by their SHA-256 (never stored or compared as sent).
 */
export class KeyTable implements ApiKeyLookup {
  #byDigest = new Map<string, KeyRecord | RetiringSecret>();
  #byId = new Map<string, KeyRecord>();
  // One string per plan name, however many keys share it.
  readonly #plans = new Map<string, string>();

  get size(): number {
    return this.#byId.size;
  }

  /** Replaces the whole table (a full load): built aside, then swapped, so a lookup never sees half of it. */
  replaceAll(rows: Iterable<KeyRow>): void {
    const byDigest = new Map<string, KeyRecord | RetiringSecret>();
    const byId = new Map<string, KeyRecord>();
    for (const row of rows) this.#add(row, byDigest, byId);
    this.#byDigest = byDigest;
    this.#byId = byId;
  }

  /** Replaces what the table holds for `ids` with `rows` (theirs only; an id without rows is gone from the store). */
  replaceKeys(ids: Iterable<string>, rows: Iterable<KeyRow>): void {
    for (const id of ids) {
      const old = this.#byId.get(id);
      if (old === undefined) continue;
      for (const digest of old.digests) this.#byDigest.delete(digest);
      this.#byId.delete(id);
    }
    for (const row of rows) this.#add(row, this.#byDigest, this.#byId);
  }

  #add(row: KeyRow, byDigest: Map<string, KeyRecord | RetiringSecret>, byId: Map<string, KeyRecord>): void {
    let record = byId.get(row.id);
    if (record === undefined) {
      let plan = this.#plans.get(row.plan);
      if (plan === undefined) this.#plans.set(row.plan, (plan = row.plan));
      // A one-element literal: an empty array's first push reserves 17 slots, 128 bytes per key at 100,000 keys.
      record = new KeyRecord(row.id, plan, STATE_NAMES[row.state], row.expiresAt ?? Infinity, [row.digest]);
      byId.set(row.id, record);
    } else record.digests.push(row.digest);
    byDigest.set(row.digest, row.retiresAt === null ? record : new RetiringSecret(record, row.retiresAt));
  }

  /** The live key a presented secret belongs to; DEAD_KEY for one the store refuses; undefined for one it never issued. */
  lookup(presented: string, now: number): KnownApiKey | typeof DEAD_KEY | undefined {
    const hit = this.#byDigest.get(digestOf(presented));
    if (hit === undefined) return undefined;
    const record = hit instanceof RetiringSecret ? hit.record : hit;
    if (record.stateAt(now) !== 'active') return DEAD_KEY;
    if (hit instanceof RetiringSecret && now >= hit.retiresAt) return DEAD_KEY;
    return record;
  }

  /** A key by id, whatever its state (the admin API names clients by `id:`). */
  key(id: string): KnownApiKey | undefined {
    return this.#byId.get(id);
  }

  /** The key id a digest (lower-case hex) belongs to, whatever its state. */
  idOfDigest(digest: string): string | undefined {
    const hit = this.#byDigest.get(digest);
    return hit === undefined ? undefined : hit instanceof RetiringSecret ? hit.record.id : hit.id;
  }

  /** Keys by state at `now` (the throttlegate_api_keys gauge). */
  countByState(now: number): Record<KeyState, number> {
    const counts: Record<KeyState, number> = { active: 0, disabled: 0, expired: 0, revoked: 0 };
    for (const record of this.#byId.values()) counts[record.stateAt(now)]++;
    return counts;
  }
}
