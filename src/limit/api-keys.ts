import { timingSafeEqual } from 'node:crypto';
import { sha256Bytes, sha256Hex } from './digest.js';
import type { ApiKeyConfig } from '../config/types.js';

/** A key that identifies its client: its id (the client's `id:` label) and plan (null: the anonymous limits). */
export interface KnownApiKey {
  readonly id: string;
  readonly plan: string | null;
}

/** A key the store knows but refuses (disabled, expired, revoked, past its rotation grace): 401 on every limited route. */
export const DEAD_KEY = 'dead_key' as const;

/**
 * Where identification finds API keys: the config file's (ApiKeyIndex) or
 * the key store's copy in memory (keys/table.ts). Never waits: a lookup is a
 * map read. Keys are found by their SHA-256: the digest is the map key, so
 * the only hit is an equal digest, and since a client controls no bit of a
 * digest, the lookup's timing tells it nothing about the keys held.
 */
export interface ApiKeyLookup {
  /** `now`: epoch ms, for expiry. */
  lookup(presented: string, now: number): KnownApiKey | typeof DEAD_KEY | undefined;
}

/**
 * The configured API keys, held only as SHA-256 digests. A presented key is
 * hashed and looked up by its digest: the map finds the one candidate and the
 * whole digest is then compared in constant time, so response timing tells
 * an attacker nothing about stored keys (and a leaked config holds no key).
 */
export class ApiKeyIndex implements ApiKeyLookup {
  readonly #byDigest = new Map<string, { readonly key: ApiKeyConfig; readonly digest: Buffer }>();

  constructor(keys: readonly ApiKeyConfig[]) {
    for (const key of keys) this.#byDigest.set(key.sha256, { key, digest: Buffer.from(key.sha256, 'hex') });
  }

  get size(): number {
    return this.#byDigest.size;
  }

  lookup(presented: string): ApiKeyConfig | undefined {
    const digest = sha256Bytes(presented);
    const hit = this.#byDigest.get(digest.toString('hex'));
    if (hit === undefined || !timingSafeEqual(hit.digest, digest)) return undefined;
    return hit.key;
  }
}

/** What api_keys' `hash:` holds for a key; `throttlegate hash-key KEY` prints it. */
export function hashApiKey(key: string): string {
  return `sha256:${sha256Hex(key)}`;
}
