import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyRequest } from 'fastify';
import { ALL_LIMIT_HEADERS } from '../limit/headers.js';

/**
 * Hop-by-hop fields (RFC 9110 section 7.6.1) that reply-from does not already
 * drop. reply-from removes `Connection`, the fields it lists and
 * `Transfer-Encoding` from requests before our rewrite runs, which is why
 * the X-Forwarded-* fields set here cannot be removed by a client.
 */
const HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'upgrade', 'trailer', 'proxy-authorization', 'proxy-authenticate'];

type Headers = Record<string, string | string[] | number | undefined>;

/** Headers sent upstream: hop-by-hop removed, forwarding fields set by the gateway alone. */
export function upstreamRequestHeaders(request: FastifyRequest, headers: Headers): Headers {
  for (const name of HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
  // TE is hop-by-hop; only "trailers" may be passed on (and undici refuses anything else).
  if (headers.te !== undefined && headers.te !== 'trailers') delete headers.te;
  headers['x-forwarded-for'] = request.gateway.forwardedFor;
  headers['x-forwarded-proto'] = request.protocol;
  headers['x-forwarded-host'] = request.host;
  headers['x-request-id'] = request.id;
  return headers;
}

/** Headers sent to the client: hop-by-hop removed, and the gateway's own limit headers win over an upstream's. */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const connection = headers.connection;
  if (connection !== undefined) {
    for (const token of connection.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) delete headers[name];
    }
    delete headers.connection;
  }
  for (const name of HOP_BY_HOP) if (headers[name] !== undefined) delete headers[name];
  if (headers.te !== undefined) delete headers.te;
  for (const name of ALL_LIMIT_HEADERS) if (headers[name] !== undefined) delete headers[name];
  return headers;
}
