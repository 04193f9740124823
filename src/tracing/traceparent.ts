/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): the
 * `traceparent` and `tracestate` fields, read strictly and written in
 * version 00. Pure functions over strings; context.ts applies them to a request.
 */

/** The trace fields of a request (request-state.ts holds them; a unit test may pass a plain object). */
export interface TraceFields {
  /** 32 lowercase hex, never all zeros; '' until the request's trace is known. */
  traceId: string;
  /** The gateway's own span id for this hop, 16 lowercase hex: what the upstream sees as its parent. */
  spanId: string;
  /** The caller's span id from a valid incoming traceparent; undefined when the gateway began the trace. */
  parentSpanId: string | undefined;
  /** Flags sent upstream: bit 0 sampled, bit 1 random (Level 2); others zero. */
  traceFlags: number;
  /** The caller's tracestate, passed on unchanged (or shortened as the spec allows); only with a valid traceparent. */
  traceState: string | undefined;
}

export const SAMPLED = 0x01;
// Sampled, and Level 2's "random" bit; Level 1 says every flag a vendor does not know is sent as zero.
const KNOWN_FLAGS = 0x03;
// Anchored: only the first 55 characters are matched, whatever follows them (checked below).
const SHAPE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}/;
/** All-zero ids are invalid in W3C Trace Context, whoever made them. */
export const ZERO_TRACE_ID = '0'.repeat(32);
export const ZERO_SPAN_ID = '0'.repeat(16);
const DASH = 0x2d;

/**
 * Reads a `traceparent` value into `into` (traceId, parentSpanId,
 * traceFlags) and returns true, or returns false and writes nothing. Valid:
 * lowercase hex only; version 00 is exactly 55 characters; a higher version
 * (never ff) is read by its first 55 characters when nothing or a `-`
 * follows them, as the spec asks of a parser meeting a newer version; trace
 * id and parent id not all zeros. Two traceparent fields arrive joined by a
 * comma (Node) and fail the length, as the spec wants of duplicates.
 */
export function parseTraceparent(value: string, into: TraceFields): boolean {
  if (value.length < 55 || !SHAPE.test(value)) return false;
  const v0 = value.charCodeAt(0);
  const v1 = value.charCodeAt(1);
  if (v0 === 0x66 && v1 === 0x66) return false; // version ff is invalid
  const version00 = v0 === 0x30 && v1 === 0x30;
  if (value.length > 55 && (version00 || value.charCodeAt(55) !== DASH)) return false;
  const traceId = value.substring(3, 35);
  const parentId = value.substring(36, 52);
  if (traceId === ZERO_TRACE_ID || parentId === ZERO_SPAN_ID) return false;
  into.traceId = traceId;
  into.parentSpanId = parentId;
  into.traceFlags = ((hexValue(value.charCodeAt(53)) << 4) | hexValue(value.charCodeAt(54))) & KNOWN_FLAGS;
  return true;
}

/** The value of one lowercase hex digit's char code (the caller has checked it is one). */
export function hexValue(code: number): number {
  return code <= 0x39 ? code - 0x30 : code - 0x57;
}

// '-00' ... '-ff': the flags part of a traceparent, built once.
const FLAGS = Array.from({ length: 256 }, (_, i) => `-${i.toString(16).padStart(2, '0')}`);

/** The traceparent sent upstream: version 00, the request's trace id, the gateway's span id, its flags. */
export function formatTraceparent(fields: TraceFields): string {
  return '00-' + fields.traceId + '-' + fields.spanId + FLAGS[fields.traceFlags & 0xff];
}

/** The spec's list-member limit: more, and the whole tracestate is discarded. */
export const TRACESTATE_MAX_MEMBERS = 32;
/** What the gateway passes on at most (the spec asks vendors to propagate at least 512 characters). */
export const TRACESTATE_MAX_LENGTH = 512;
const LONG_MEMBER = 128;

/**
 * The `tracestate` to pass on with a valid traceparent: unchanged when it
 * has at most 32 list members and 512 characters (the common case: one
 * count, no copy); over 32 members, none (the spec: discard it); over 512
 * characters, shortened as the spec allows: members over 128 characters are
 * dropped first, then members from the right, until it fits. Two fields
 * arrive joined by a comma (Node), which is the same list.
 */
export function boundedTracestate(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  let members = 1;
  for (let at = value.indexOf(','); at !== -1; at = value.indexOf(',', at + 1)) {
    if (++members > TRACESTATE_MAX_MEMBERS) return undefined;
  }
  if (value.length <= TRACESTATE_MAX_LENGTH) return value;
  const list = value.split(',').map((m) => m.trim()).filter((m) => m !== '' && m.length <= LONG_MEMBER);
  while (list.length > 0 && list.join(',').length > TRACESTATE_MAX_LENGTH) list.pop();
  return list.length === 0 ? undefined : list.join(',');
}
