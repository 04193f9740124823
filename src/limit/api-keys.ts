import { timingSafeEqual } from 'node:crypto';
import { sha256Bytes, sha256Hex } from './digest.js';
import type { ApiKeyConfig } from '../config/types.js';

/**
 * The configured API keys, held only as SHA-256 digests. A presented key is
 * hashed and looked up by its digest: the map finds the one candidate and the
 * whole digest is then compared in constant time, so response timing tells
 * an attacker nothing about stored keys (and a leaked config holds no key).
 */
export class ApiKeyIndex {
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
