/**
 * The bundled origin the `traffic` command's clients talk to through the
 * gateway: the small shop API of origin-model.ts, answering by originAnswer
 * from the request alone (it never sees a label), and slower under load, as
 * a real origin is: each request beyond `slowAfter` in flight adds 1 ms,
 * up to `maxDelayMs`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { originAnswer } from './origin-model.js';

export interface OriginOptions {
  /** Listen port; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Listen address (default 127.0.0.1). */
  readonly host?: string;
  /** Requests in flight before answers slow down (default 50). */
  readonly slowAfter?: number;
  /** The most a request is delayed (default 200 ms). */
  readonly maxDelayMs?: number;
}

/** A running origin. */
export interface RunningOrigin {
  readonly url: string;
  readonly port: number;
  /** Requests answered so far, by status. */
  readonly answered: ReadonlyMap<number, number>;
  close(): Promise<void>;
}

/** A login body is tiny; anything larger is cut off here rather than buffered. */
const MAX_BODY = 16 * 1024;

const BODIES: Readonly<Record<number, string>> = {
  401: '{"error":"invalid credentials"}',
  404: '{"error":"not found"}',
};

/** The delay for a request that finds `inFlight` requests (itself included) being answered. */
export function loadDelayMs(inFlight: number, slowAfter: number, maxDelayMs: number): number {
  return Math.min(maxDelayMs, Math.max(0, inFlight - slowAfter));
}

/** Reads a login body's password: undefined when the body is not JSON or has none. */
export function passwordOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    const password = parsed !== null && typeof parsed === 'object' ? (parsed as { password?: unknown }).password : undefined;
    return typeof password === 'string' ? password : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the origin; resolves once it listens. */
export async function startOrigin(options: OriginOptions = {}): Promise<RunningOrigin> {
  const slowAfter = options.slowAfter ?? 50;
  const maxDelayMs = options.maxDelayMs ?? 200;
  const answered = new Map<number, number>();
  let inFlight = 0;

  const answer = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    const url = req.url ?? '/';
    const cut = url.indexOf('?');
    const path = cut < 0 ? url : url.slice(0, cut);
    const method = req.method ?? 'GET';
    const status = originAnswer(method, path, method === 'POST' ? passwordOf(body) : undefined);
    const send = (): void => {
      inFlight -= 1;
      answered.set(status, (answered.get(status) ?? 0) + 1);
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' }).end(BODIES[status] ?? JSON.stringify({ ok: true, path }));
    };
    const delay = loadDelayMs(inFlight, slowAfter, maxDelayMs);
    if (delay > 0) setTimeout(send, delay);
    else send();
  };

  const server = createServer((req, res) => {
    inFlight += 1;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    req.on('end', () => answer(req, res, Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => {
      inFlight -= 1;
    });
  });
  // The gateway keeps its upstream connections alive; an idle one must outlive its pool's keep-alive.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address, family } = server.address() as AddressInfo;
  const host = family === 'IPv6' ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    port,
    answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
