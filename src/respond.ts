import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply } from 'fastify';
import type { RequestState } from './request-state.js';
import { ERRORS, errorBody, type ErrorCode } from './errors.js';
import { writeLimitHeaders } from './limit/headers.js';

/**
 * Answers with a catalogue error as `{"error":"<token>"}`, with the limit
 * headers of the decision the limiter made for this request, if it made one
 * (a 429, and a 502/503 after the limit let the request through). A reply
 * already sent, or a client already gone, gets nothing: there is no one to
 * tell, and sending twice is how "Reply was already sent" errors are born.
 */
export function sendGatewayError(reply: FastifyReply, code: ErrorCode, extra?: Record<string, number | string>): void {
  if (reply.sent || reply.raw.headersSent || reply.raw.destroyed) return;
  const body = extra ? withExtra(errorBody(code), extra) : errorBody(code);
  // The admin app's requests carry no gateway state.
  const decision = (reply.request.gateway as RequestState | null | undefined)?.decision;
  if (decision !== undefined) writeLimitHeaders(reply, decision);
  reply.code(ERRORS[code].status).header('content-type', 'application/json; charset=utf-8').send(body);
}

/**
 * The same answer as raw bytes, for a socket no response object owns (a
 * request Node's parser refused, an upgrade): always `Connection: close`,
 * since what follows on that socket cannot be trusted or is not HTTP.
 */
export function rawGatewayError(code: ErrorCode): string {
  return rawJsonResponse(ERRORS[code].status, errorBody(code));
}

/** A whole JSON response as bytes to write on a bare socket (the admin listener's own bodies too), closing it. */
export function rawJsonResponse(status: number, body: string): string {
  return `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`;
}

/** What a request Node's parser refused (its clientError) is answered with: 431, 408, else 400. */
export function clientErrorCode(err: { readonly code?: string }): ErrorCode {
  if (err.code === 'HPE_HEADER_OVERFLOW') return 'TG_ERR_REQUEST_HEADERS_TOO_LARGE';
  return err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'TG_ERR_REQUEST_TIMEOUT' : 'TG_ERR_REQUEST_BAD_PATH';
}

/**
 * The catalogue entry for an error Fastify raised itself (a body parser, a
 * URL its router cannot decode, a hook that threw): its own bodies name
 * Fastify codes and the internal mount path, so none reaches a client.
 */
export function frameworkErrorCode(error: Pick<FastifyError, 'statusCode'>): ErrorCode {
  const status = error.statusCode ?? 500;
  if (status === 413) return 'TG_ERR_REQUEST_BODY_TOO_LARGE';
  if (status === 431) return 'TG_ERR_REQUEST_HEADERS_TOO_LARGE';
  if (status === 408) return 'TG_ERR_REQUEST_TIMEOUT';
  if (status >= 400 && status < 500) return 'TG_ERR_REQUEST_BAD_PATH';
  return 'TG_ERR_INTERNAL';
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
