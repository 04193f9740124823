import type { FastifyReply } from 'fastify';
import { ERRORS, errorBody, type ErrorCode } from './errors.js';

/**
 * Answers with a catalogue error as `{"error":"<token>"}`. A reply already
 * sent, or a client already gone, gets nothing: there is no one to tell, and
 * sending twice is how "Reply was already sent" errors are born.
 */
export function sendGatewayError(reply: FastifyReply, code: ErrorCode, extra?: Record<string, number | string>): void {
  if (reply.sent || reply.raw.headersSent || reply.raw.destroyed) return;
  const body = extra ? JSON.stringify({ error: ERRORS[code].error, ...extra }) : errorBody(code);
  reply.code(ERRORS[code].status).header('content-type', 'application/json; charset=utf-8').send(body);
}
