import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ERRORS, errorBody, type ErrorCode } from '../errors.js';
import { responseHeaders, sanitizeHeaderValues } from './headers.js';
import { addLimitHeaders } from '../limit/headers.js';
import type { LimitDecision } from '../limit/decision.js';

/**
 * Writes the upstream's status and headers (responseHeaders: hop-by-hop
 * removed) and the limit headers of the request's decision, which win over
 * an upstream's, on a hijacked response.
 * Node frames the body itself: Content-Length when the upstream sent one,
 * chunked otherwise, none at all for HEAD, 204 and 304. A value Node refuses
 * to write (a control character llhttp let through) is cleaned and written
 * again, rather than failing a response the upstream did send.
 */
export function writeResponseHead(res: ServerResponse, status: number, raw: Buffer[], decision: LimitDecision | undefined, close: boolean): void {
  const headers = responseHeaders(raw);
  if (decision !== undefined) addLimitHeaders(headers, decision);
  if (close) headers.connection = 'close';
  try {
    res.writeHead(status, headers as OutgoingHttpHeaders);
  } catch {
    res.writeHead(status, sanitizeHeaderValues(headers) as OutgoingHttpHeaders);
  }
}

/**
 * The gateway's error answer (`{"error":"<token>"}`) on a hijacked response,
 * with the limit headers, as sendGatewayError sends it on a Fastify reply.
 * Nothing when the head is already out or the client is gone.
 */
export function writeGatewayError(res: ServerResponse, code: ErrorCode, decision: LimitDecision | undefined, close: boolean): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(code);
  const own: OutgoingHttpHeaders = decision === undefined ? {} : addLimitHeaders({}, decision);
  own['content-type'] = 'application/json; charset=utf-8';
  own['content-length'] = Buffer.byteLength(body);
  if (close) own.connection = 'close';
  res.writeHead(ERRORS[code].status, own).end(body);
}
