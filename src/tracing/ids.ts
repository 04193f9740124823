import { randomFillSync } from 'node:crypto';
import { ZERO_SPAN_ID, ZERO_TRACE_ID } from './traceparent.js';

/**
 * Random trace and span ids for every request, at well under a microsecond:
 * a pool of random bytes, filled with crypto.randomFillSync and hex-encoded
 * in one call, is cut into ids by substring (V8 shares the pool string, no
 * copy). 16 KiB of randomness lasts about 680 requests (48 hex digits each),
 * so the fill and the encoding cost a few hundredths of a microsecond per request.
 */
const POOL = Buffer.allocUnsafe(16 * 1024);
let hex = '';
let at = 0;

function take(length: number): string {
  if (at + length > hex.length) {
    hex = randomFillSync(POOL).toString('hex');
    at = 0;
  }
  const id = hex.substring(at, at + length);
  at += length;
  return id;
}

/** 32 lowercase hex digits, never all zeros (invalid in W3C Trace Context). */
export function newTraceId(): string {
  let id = take(32);
  while (id === ZERO_TRACE_ID) id = take(32);
  return id;
}

/** 16 lowercase hex digits, never all zeros. */
export function newSpanId(): string {
  let id = take(16);
  while (id === ZERO_SPAN_ID) id = take(16);
  return id;
}
