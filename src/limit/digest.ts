import * as crypto from 'node:crypto';

// crypto.hash (Node 20.12+, 21.7+) hashes in one native call: a third of createHash().update().digest()'s
// cost, which builds a Hash object per call. Earlier Node 20 releases fall back to the latter.
type OneShot = (algorithm: string, data: string, encoding: 'hex' | 'buffer') => string | Buffer;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

/** SHA-256 of a presented key (API key, JWT claim), hex: hashed on the request path, so the cheapest call Node offers. */
export function sha256Hex(value: string): string {
  return oneShot === undefined ? crypto.createHash('sha256').update(value).digest('hex') : (oneShot('sha256', value, 'hex') as string);
}

/** The same digest as bytes, for a constant-time comparison. */
export function sha256Bytes(value: string): Buffer {
  return oneShot === undefined ? crypto.createHash('sha256').update(value).digest() : (oneShot('sha256', value, 'buffer') as Buffer);
}
