import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import { ERRORS } from '../errors.js';
import { clientErrorCode, rawJsonResponse } from '../respond.js';

/**
 * Every `error` the admin API answers with: one catalogue, so no answer is
 * ever a Fastify or Node default body (README, "Admin API").
 */
export type AdminErrorName =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'unknown_policy'
  | 'adaptive_off'
  | 'learning_disabled'
  | 'client_not_seen'
  | 'store_unavailable'
  | 'dashboard_unavailable'
  | 'key_store_off'
  | 'key_store_unavailable'
  | 'key_exists'
  | 'key_not_found'
  | 'key_revoked'
  | 'request_timeout'
  | 'payload_too_large'
  | 'uri_too_long'
  | 'unsupported_media_type'
  | 'too_many_requests'
  | 'headers_too_large'
  | 'internal_error';

/**
 * The admin API's error bodies: `{"error":"<name>"}` plus details (problems
 * with field paths). Sent as text, past the route's response schema: an
 * error answered before the handler (a 429 from the auth throttle on
 * /v1/check, whose 429 schema is a limit decision) must not be serialised
 * as that route's success shape.
 */
export function adminError(reply: FastifyReply, status: number, error: AdminErrorName, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(JSON.stringify({ error, ...extra }));
}

const BY_STATUS: Readonly<Record<number, AdminErrorName>> = {
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
  429: 'too_many_requests',
  431: 'headers_too_large',
};

/** The name for a 4xx status Fastify or Node chose (a body too large, a bad media type...); others are bad_request. */
export const adminErrorName = (status: number): AdminErrorName => BY_STATUS[status] ?? 'bad_request';

/**
 * Node's clientError (a request it could not parse, headers too large, a
 * timeout): answered on the socket in the catalogue's format, since no
 * Fastify reply exists yet.
 */
export function adminClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const status = ERRORS[clientErrorCode(err)].status;
  if (socket.writable) socket.write(rawJsonResponse(status, JSON.stringify({ error: adminErrorName(status) })));
  socket.destroy();
}
