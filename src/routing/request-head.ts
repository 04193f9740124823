import type { IncomingMessage } from 'node:http';
import type { ErrorCode } from '../errors.js';

/**
 * The most header fields a request may carry. Node's parser keeps only the
 * first `server.maxHeadersCount` and drops the rest without a word; the
 * listener sets that count one above this limit, so a request that reaches
 * it is known to have had more and is refused rather than forwarded short.
 * 100 is the default of Envoy, Apache httpd and Tomcat, and leaves room for
 * the forwarding fields the gateway adds under the 1,000 a Node upstream keeps.
 */
export const MAX_HEADER_FIELDS = 100;

// The Sec-WebSocket-Key of RFC 6455 section 4.1: 16 bytes, base64.
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/;
// A Sec-WebSocket-Protocol value: a comma-separated list of RFC 9110 tokens.
const WS_PROTOCOLS = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*,[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/;

/**
 * Why a request's head cannot be served, read before routing: more fields
 * than the gateway forwards (431), two Host fields (400: RFC 9112 section 3.2
 * requires it, and the route would be chosen on one and the upstream might
 * read the other), or a WebSocket handshake the ws server would refuse with
 * a plain-text body of its own (400 from the catalogue instead).
 */
export function headRefusal(req: IncomingMessage, upgrade: boolean): ErrorCode | undefined {
  const raw = req.rawHeaders;
  if (raw.length > 2 * MAX_HEADER_FIELDS) return 'TG_ERR_REQUEST_HEADERS_TOO_LARGE';
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host' && ++hosts > 1) return 'TG_ERR_REQUEST_BAD_PATH';
  }
  if (upgrade && !isValidHandshake(req.headers)) return 'TG_ERR_REQUEST_BAD_PATH';
  return undefined;
}

/** The checks ws's handleUpgrade makes (method and Upgrade were settled by the listener). */
function isValidHandshake(headers: IncomingMessage['headers']): boolean {
  const key = headers['sec-websocket-key'];
  const version = headers['sec-websocket-version'];
  const protocols = headers['sec-websocket-protocol'];
  if (key === undefined || !WS_KEY.test(key)) return false;
  if (version !== '13' && version !== '8') return false;
  return protocols === undefined || (WS_PROTOCOLS.test(protocols) && !hasDuplicate(protocols));
}

function hasDuplicate(list: string): boolean {
  const names = list.split(',').map((p) => p.trim());
  return new Set(names).size !== names.length;
}
