/**
 * Canonical form of a request target, computed once and used both to choose a
 * route and as the path forwarded upstream, so no encoding trick can make the
 * two disagree (the @fastify/http-proxy prefix-escape advisories came from
 * matching one spelling and forwarding another).
 *
 * The canonical path:
 * - has percent-encoded unreserved characters decoded (`%7E` -> `~`, `%2e` -> `.`)
 *   and every other escape in upper case (`%c3` -> `%C3`);
 * - has "." and ".." segments resolved (RFC 3986 section 5.2.4) and runs of "/" merged;
 * - never contains an encoded slash or a backslash, raw or encoded: those are
 *   refused, because upstreams disagree on whether they separate segments;
 * - has escaped bytes that are valid UTF-8 (no overlong `%C0%AE`), or is refused.
 */
export type NormalisedTarget =
  | { readonly ok: true; readonly path: string; readonly query: string }
  | { readonly ok: false; readonly reason: string };

const HEX = '0123456789ABCDEF';

// Characters that may stand unescaped in a path segment (RFC 3986 pchar minus "%").
const PCHAR = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@") PCHAR[c.charCodeAt(0)] = 1;
const UNRESERVED = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~') UNRESERVED[c.charCodeAt(0)] = 1;

// The common case (plain ASCII path, no dots or escapes) needs no rewriting.
const ALREADY_CANONICAL = /^(?:\/[A-Za-z0-9\-_~!$&'()*+,;=:@]+(?:\.[A-Za-z0-9\-_~!$&'()*+,;=:@]+)*)*\/?$/;

export function normaliseTarget(target: string): NormalisedTarget {
  if (target.charCodeAt(0) !== 47 /* / */) return { ok: false, reason: 'request target must be an absolute path' };
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  if (query.includes('#')) return { ok: false, reason: 'request target must not contain a fragment' };
  if (ALREADY_CANONICAL.test(rawPath)) return { ok: true, path: rawPath, query };
  const path = canonicalPath(rawPath);
  return typeof path === 'string' ? { ok: true, path, query } : path;
}

function canonicalPath(rawPath: string): string | { ok: false; reason: string } {
  const segments = rawPath.split('/');
  const out: string[] = [];
  // "/a/b/", "/a/b/." and "/a/b/.." all name a directory: keep the trailing slash.
  let endsAsDirectory = false;
  for (let i = 1; i < segments.length; i++) {
    const seg = canonicalSegment(segments[i] as string);
    if (typeof seg !== 'string') return seg;
    endsAsDirectory = seg === '' || seg === '.' || seg === '..';
    if (seg === '..') out.pop();
    else if (!endsAsDirectory) out.push(seg);
  }
  const path = '/' + out.join('/');
  if (!escapesAreUtf8(path)) return { ok: false, reason: 'percent-encoded bytes in path are not UTF-8' };
  return endsAsDirectory && path !== '/' ? path + '/' : path;
}

/**
 * Escaped bytes must spell UTF-8. An overlong form such as `%C0%AE` is a
 * dot to a lenient decoder upstream, so `/api/%C0%AE%C0%AE/` could climb out
 * of a route's prefix there; and Fastify's router cannot decode such a path
 * at all. Escapes are upper case here, and raw non-ASCII was escaped as UTF-8.
 */
function escapesAreUtf8(path: string): boolean {
  if (!/%[89A-F]/.test(path)) return true;
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

function canonicalSegment(seg: string): string | { ok: false; reason: string } {
  let out = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexValue(seg.charCodeAt(i + 1));
      const lo = hexValue(seg.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { ok: false, reason: 'malformed percent-encoding in path' };
      const byte = hi * 16 + lo;
      if (byte === 0x2f || byte === 0x5c) return { ok: false, reason: 'encoded slash or backslash in path' };
      if (byte === 0) return { ok: false, reason: 'encoded NUL in path' };
      out += byte < 128 && UNRESERVED[byte] ? String.fromCharCode(byte) : '%' + HEX[hi] + HEX[lo];
      i += 2;
    } else if (c === 92 /* \ */) {
      return { ok: false, reason: 'backslash in path' };
    } else if (c < 128 && PCHAR[c]) {
      out += seg[i];
    } else {
      // Anything else (space, quotes, non-ASCII) is escaped as its UTF-8 bytes.
      for (const b of Buffer.from(seg[i] as string, 'utf8')) out += '%' + HEX[b >> 4] + HEX[b & 15];
    }
  }
  return out;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}
