import { randomBytes } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
// 62 * 4 = 248: a byte below it maps to a digit without bias; the rest are drawn again.
const UNBIASED_BELOW = 248;

/** The prefix of every key the store issues: secret scanners (GitHub's, gitleaks) can match `tg_` plus 32 base62 characters. */
export const KEY_PREFIX = 'tg_';
export const KEY_PATTERN = /^tg_[0-9A-Za-z]{32}$/;
/** How much of a key listings show: `tg_` and five characters, enough to tell keys apart, far too little to guess one. */
export const SHOWN_PREFIX_LENGTH = 8;

/** `length` base62 characters from crypto.randomBytes, by rejection sampling (no modulo bias). */
export function randomBase62(length: number, random: (n: number) => Buffer = randomBytes): string {
  let out = '';
  while (out.length < length) {
    for (const byte of random(length - out.length + 8)) {
      if (byte >= UNBIASED_BELOW) continue;
      out += BASE62[byte % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A new API key: `tg_` + 32 base62 characters (about 190 bits). Shown once; only its SHA-256 is kept. */
export function newApiKey(random?: (n: number) => Buffer): string {
  return KEY_PREFIX + randomBase62(32, random);
}

/** An id for a key created without one: `key_` + 12 base62 characters. */
export function newKeyId(random?: (n: number) => Buffer): string {
  return `key_${randomBase62(12, random)}`;
}
