import { connect } from 'node:net';
import type { TestGateway } from './gateway.js';
import { send, type RawResponse } from './http.js';

/** One call to a test gateway's admin API with a bearer token; `body` is sent as JSON. */
export function adminSend(gw: TestGateway, token: string, method: string, path: string, body?: unknown): Promise<RawResponse> {
  if (gw.adminUrl === undefined) throw new Error('this gateway has no admin: section');
  const json = body === undefined ? {} : { 'content-type': 'application/json' };
  return send(gw.adminUrl, path, { method, headers: { authorization: `Bearer ${token}`, ...json }, body: body === undefined ? undefined : JSON.stringify(body) });
}

/** A parsed answer to a raw request. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * Writes `head` (request line and headers, without the blank line) and `body`
 * to the admin listener byte for byte, `Connection: close` added, and reads
 * the answer to the end: the request target goes out exactly as spelled
 * (absolute form, `#`, dot segments), which http.request would not all allow.
 * `localAddress` picks the client address (any 127.0.0.0/8 on loopback).
 */
export function rawAdmin(gw: TestGateway, head: string, body = '', localAddress?: string): Promise<RawAnswer> {
  if (gw.adminUrl === undefined) throw new Error('this gateway has no admin: section');
  const { hostname, port } = new URL(gw.adminUrl);
  const length = body === '' ? '' : `\r\ncontent-length: ${Buffer.byteLength(body)}`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), localAddress });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${head.split('\r\n')[0]}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [top = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = top.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(`${head}\r\nconnection: close${length}\r\n\r\n${body}`);
  });
}
