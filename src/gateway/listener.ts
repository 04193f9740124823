import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerConfig } from '../config/types.js';
import { ERRORS, errorBody, type ErrorCode } from '../errors.js';
import type { ConfigApp } from './app.js';
import { markUpgrade } from '../request-state.js';

interface Generation {
  readonly app: ConfigApp;
  /** Requests (and open WebSockets) this app is serving. */
  inFlight: number;
  retired: boolean;
  closed: Promise<void> | undefined;
}

/**
 * The gateway's one HTTP server. Each request goes to the app that is live
 * when it arrives and stays with it to the end; `swap` makes a new app live
 * for every request after it, with no socket closed. A retired app is closed
 * (pools, health checks) once its last request, or WebSocket, has ended:
 * that is what lets a reload finish in-flight requests on the config they
 * started with.
 */
export class Listener {
  readonly server: Server;
  #live: Generation;
  #closing = false;
  readonly #retiring = new Set<Generation>();

  constructor(first: ConfigApp, settings: ServerConfig) {
    this.#live = generation(first);
    this.server = createServer(
      {
        maxHeaderSize: settings.maxHeaderBytes,
        requestTimeout: settings.requestTimeoutMs,
        keepAliveTimeout: settings.keepAliveTimeoutMs,
        // Slowloris: a client must finish sending headers within this time.
        headersTimeout: Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs),
      },
      (req, res) => this.#dispatch(req, res),
    );
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    this.server.on('clientError', answerClientError);
  }

  get live(): ConfigApp {
    return this.#live.app;
  }

  /** Timeouts that apply to new requests at once; the header size limit needs a restart. */
  applySettings(settings: ServerConfig): void {
    this.server.requestTimeout = settings.requestTimeoutMs;
    this.server.keepAliveTimeout = settings.keepAliveTimeoutMs;
    this.server.headersTimeout = Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs);
  }

  /** Makes `next` live; the previous app finishes what it has and is then closed. */
  swap(next: ConfigApp): void {
    const previous = this.#live;
    this.#live = generation(next);
    this.#retire(previous);
  }

  /** Stops accepting, answers 503 to requests that still arrive on open connections, waits for the rest. */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    this.#retire(this.#live);
    await Promise.all([closed, ...[...this.#retiring].map((g) => g.closed)]);
  }

  #dispatch(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closing) {
      res.shouldKeepAlive = false;
      const body = errorBody('TG_ERR_SHUTTING_DOWN');
      res
        .writeHead(ERRORS.TG_ERR_SHUTTING_DOWN.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' })
        .end(body);
      return;
    }
    const gen = this.#live;
    gen.inFlight++;
    res.once('close', () => this.#done(gen));
    gen.app.handle(req, res);
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const gen = this.#live;
    // @fastify/http-proxy listens for upgrades on its app's server; the app never listens, so hand it over.
    if (this.#closing || gen.app.app.server.listenerCount('upgrade') === 0) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    gen.inFlight++;
    socket.once('close', () => this.#done(gen));
    markUpgrade(req);
    gen.app.app.server.emit('upgrade', req, socket, head);
  }

  #done(gen: Generation): void {
    gen.inFlight--;
    // server.close() closed the connections idle then; one whose response just ended is idle now.
    if (this.#closing) setImmediate(() => this.server.closeIdleConnections());
    if (gen.retired && gen.inFlight === 0) void this.#closeApp(gen);
  }

  #retire(gen: Generation): void {
    gen.retired = true;
    this.#retiring.add(gen);
    if (gen.inFlight === 0) void this.#closeApp(gen);
  }

  #closeApp(gen: Generation): Promise<void> {
    gen.closed ??= gen.app.close().finally(() => this.#retiring.delete(gen));
    return gen.closed;
  }
}

function generation(app: ConfigApp): Generation {
  return { app, inFlight: 0, retired: false, closed: undefined };
}

/**
 * Requests Node's parser refuses never reach an app: oversized headers get
 * 431, a request that took too long 408, anything else 400, each with the
 * gateway's JSON error body; a socket already gone gets nothing.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    err.code === 'HPE_HEADER_OVERFLOW' ? 'TG_ERR_REQUEST_HEADERS_TOO_LARGE'
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'TG_ERR_REQUEST_TIMEOUT'
    : 'TG_ERR_REQUEST_BAD_PATH';
  const status = ERRORS[code].status;
  const body = errorBody(code);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
