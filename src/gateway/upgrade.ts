import type { IncomingMessage } from 'node:http';

/**
 * The one upgrade the gateway performs: `GET` with `Upgrade: websocket`.
 * Node hands every request that asks for an upgrade to the 'upgrade' event
 * (on Node 20 there is no per-request choice); anything else, such as the
 * `Upgrade: h2c` that `curl --http2` sends on http:// URLs, is an ordinary
 * request whose upgrade offer the gateway may ignore (RFC 9110 section 7.8),
 * as nginx does.
 */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return req.method === 'GET' && req.headers.upgrade?.toLowerCase() === 'websocket';
}

// Fields that only make sense to the upgrade being declined.
const UPGRADE_FIELDS = new Set(['upgrade', 'http2-settings']);

/**
 * The request head again, without its upgrade offer: `Upgrade` and
 * `HTTP2-Settings` removed, and their tokens removed from `Connection`. Fed
 * back to the server's own parser, it makes a plain request whose body (if
 * any) follows as usual, and keep-alive goes on. Field values are written
 * back as Node read them (latin1), so nothing the client sent changes.
 */
export function headWithoutUpgrade(req: IncomingMessage): Buffer {
  let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (UPGRADE_FIELDS.has(lower)) continue;
    let value = raw[i + 1] as string;
    if (lower === 'connection') {
      value = value
        .split(',')
        .map((token) => token.trim())
        .filter((token) => token !== '' && !UPGRADE_FIELDS.has(token.toLowerCase()))
        .join(', ');
      if (value === '') continue;
    }
    head += `${name}: ${value}\r\n`;
  }
  return Buffer.from(`${head}\r\n`, 'latin1');
}
