import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { ERRORS, errorBody, type ErrorCode } from '../errors.js';
import { responseHeaders, sanitizeHeaderValues, type ResponseHeaders } from './headers.js';

/**
 * Writes the upstream's status and headers (responseHeaders: hop-by-hop
 * removed, the gateway's `own` headers winning) on a hijacked response.
 * Node frames the body itself: Content-Length when the upstream sent one,
 * chunked otherwise, none at all for HEAD, 204 and 304. A value Node refuses
 * to write (a control character llhttp let through) is cleaned and written
 * again, rather than failing a response the upstream did send.
 */
export function writeResponseHead(res: ServerResponse, status: number, raw: Buffer[], own: ResponseHeaders, close: boolean): void {
  const headers = responseHeaders(raw, own);
  if (close) headers.connection = 'close';
  try {
    res.writeHead(status, headers as OutgoingHttpHeaders);
  } catch {
    res.writeHead(status, sanitizeHeaderValues(headers) as OutgoingHttpHeaders);
  }
}

/**
 * The gateway's error answer (`{"error":"<token>"}`) on a hijacked response,
 * with the gateway's own headers (the limit headers) as a Fastify reply would
 * have sent them. Nothing when the head is already out or the client is gone.
 */
export function writeGatewayError(res: ServerResponse, code: ErrorCode, own: ResponseHeaders, close: boolean): void {
  if (res.headersSent || res.destroyed) return;
  const body = errorBody(code);
  own['content-type'] = 'application/json; charset=utf-8';
  own['content-length'] = Buffer.byteLength(body);
  if (close) own.connection = 'close';
  res.writeHead(ERRORS[code].status, own as OutgoingHttpHeaders).end(body);
}
