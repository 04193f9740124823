import type { ErrorCode } from '../errors.js';

/** An upstream failure classified: the gateway error to answer with and the metric `reason`. */
export interface UpstreamFailure {
  readonly code: ErrorCode;
  readonly reason: 'refused' | 'reset' | 'timeout' | 'tls' | 'dns' | 'body_too_large' | 'other';
}

export const BODY_TOO_LARGE = 'TG_BODY_TOO_LARGE';

const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'FST_REPLY_FROM_GATEWAY_TIMEOUT', 'FST_REPLY_FROM_TIMEOUT', 'ETIMEDOUT']);
const RESETS = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'UND_ERR_CLOSED', 'ECONNABORTED']);
const DNS = new Set(['ENOTFOUND', 'EAI_AGAIN']);

/**
 * Maps what @fastify/reply-from hands to onError (its own error, with undici's
 * as `cause`) to a gateway error. reply-from itself calls a reset or a socket
 * error a 500 and a refused connection a 500; a gateway must say 502, and 504
 * for every kind of timeout.
 */
export function classifyUpstreamError(error: unknown): UpstreamFailure {
  const codes = causeCodes(error);
  if (codes.includes(BODY_TOO_LARGE)) return { code: 'TG_ERR_REQUEST_BODY_TOO_LARGE', reason: 'body_too_large' };
  if (codes.some((c) => TIMEOUTS.has(c))) return { code: 'TG_ERR_UPSTREAM_TIMEOUT', reason: 'timeout' };
  if (codes.includes('ECONNREFUSED')) return { code: 'TG_ERR_UPSTREAM_UNREACHABLE', reason: 'refused' };
  if (codes.some((c) => RESETS.has(c))) return { code: 'TG_ERR_UPSTREAM_UNREACHABLE', reason: 'reset' };
  if (codes.some((c) => DNS.has(c))) return { code: 'TG_ERR_UPSTREAM_UNREACHABLE', reason: 'dns' };
  if (codes.some((c) => c.startsWith('ERR_TLS') || c.includes('CERT') || c.includes('SELF_SIGNED') || c.startsWith('UNABLE_TO'))) {
    return { code: 'TG_ERR_UPSTREAM_UNREACHABLE', reason: 'tls' };
  }
  return { code: 'TG_ERR_UPSTREAM_UNREACHABLE', reason: 'other' };
}

/** Every `code` on an error, its `cause` chain and the parts of an AggregateError. */
export function causeCodes(error: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = error;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    // AggregateError (happy-eyeballs connect to ::1 and 127.0.0.1) keeps its parts in `errors`.
    const parts = (e as { errors?: unknown }).errors;
    if (Array.isArray(parts)) for (const p of parts) codes.push(...causeCodes(p));
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}
