import type { FastifyReply } from 'fastify';
import { ERRORS, errorBody, type ErrorCode } from './errors.js';

/**
 * Answers with a catalogue error as `{"error":"<token>"}`. A reply already
 * sent, or a client already gone, gets nothing: there is no one to tell, and
 * sending twice is how "Reply was already sent" errors are born.
 */
export function sendGatewayError(reply: FastifyReply, code: ErrorCode, extra?: Record<string, number | string>): void {
  if (reply.sent || reply.raw.headersSent || reply.raw.destroyed) return;
  const body = extra ? withExtra(errorBody(code), extra) : errorBody(code);
  reply.code(ERRORS[code].status).header('content-type', 'application/json; charset=utf-8').send(body);
}

/** `{"error":"x"}` plus fields, e.g. `{"error":"rate_limited","retry_after":3}`: a 429 flood renders one per request. */
function withExtra(body: string, extra: Record<string, number | string>): string {
  let out = body.slice(0, -1);
  for (const name in extra) {
    const value = extra[name] as number | string;
    out += `,${JSON.stringify(name)}:${typeof value === 'number' && Number.isFinite(value) ? value : JSON.stringify(value)}`;
  }
  return `${out}}`;
}
