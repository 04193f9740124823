import { createServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ServerConfig } from '../config/types.js';
import { ERRORS, errorBody, type ErrorCode } from '../errors.js';
import { clientErrorCode, rawGatewayError } from '../respond.js';
import { MAX_HEADER_FIELDS } from '../routing/request-head.js';
import type { ConfigApp } from './app.js';
import { headWithoutUpgrade, isWebSocketUpgrade } from './upgrade.js';
import { HeadDeadlineOnClose } from './drain.js';
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
  readonly #drain: HeadDeadlineOnClose;

  constructor(first: ConfigApp, settings: ServerConfig) {
    this.#live = generation(first);
    this.server = createServer(
      {
        maxHeaderSize: settings.maxHeaderBytes,
        requestTimeout: settings.requestTimeoutMs,
        keepAliveTimeout: settings.keepAliveTimeoutMs,
        // Slowloris: a client must finish sending headers within this time.
        headersTimeout: Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs),
        connectionsCheckingInterval: connectionsCheckingIntervalMs(settings),
      },
      (req, res) => this.#dispatch(req, res),
    );
    // One over the limit, so a request that had more fields than that is seen (request-head.ts), never cut short.
    this.server.maxHeadersCount = MAX_HEADER_FIELDS + 1;
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(req, socket, head));
    this.server.on('clientError', answerClientError);
    this.#drain = new HeadDeadlineOnClose(this.server);
  }

  get live(): ConfigApp {
    return this.#live.app;
  }

  /**
   * Timeouts that apply to new requests at once; the header size limit needs
   * a restart. So does the checking interval, which Node fixes at listen: it
   * is at most a second, so a reloaded timeout is still enforced within a
   * second of its deadline.
   */
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
    this.#drain.start(this.server.headersTimeout);
    this.#retire(this.#live);
    await Promise.all([closed, ...[...this.#retiring].map((g) => g.closed)]).finally(() => this.#drain.stop());
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

  /**
   * A WebSocket handshake goes through the live app like any request
   * (routing, limit, target choice), with a response object of its own on
   * the socket: a refusal is written there and closes the connection; a
   * handshake let through is tunnelled by the route (proxy/ws-tunnel.ts).
   * The app counts it in flight until the socket closes, so a reload never
   * cuts an open tunnel.
   */
  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.#closing) return endWith(socket, 'TG_ERR_SHUTTING_DOWN');
    if (!isWebSocketUpgrade(req)) return this.#declineUpgrade(req, socket, head);
    const gen = this.#live;
    gen.inFlight++;
    socket.once('close', () => this.#done(gen));
    // Node took its error listener with its parser: a reset now must not become an uncaught 'error'.
    socket.on('error', destroyOnError);
    markUpgrade(req, head);
    const res = new ServerResponse(req);
    // Whatever is answered here ends the connection: after a refused handshake the client's next bytes are not HTTP.
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    res.once('finish', () => (socket as Socket).destroySoon());
    gen.app.handle(req, res);
  }

  /**
   * Serves an upgrade offer the gateway does not take (h2c, a POST asking for
   * a WebSocket) as the plain request it also is: its head, without the
   * offer, goes back through this server's parser on the same socket, then
   * the body and any later keep-alive requests follow.
   */
  #declineUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Node kept only the first fields of an oversized head: re-reading it would forward it short.
    if (req.rawHeaders.length > 2 * MAX_HEADER_FIELDS) return endWith(socket, 'TG_ERR_REQUEST_HEADERS_TOO_LARGE');
    const replay = Buffer.concat([headWithoutUpgrade(req), head]);
    // Node took its error listener with its parser: a reset now must not become an uncaught 'error'.
    socket.on('error', destroyOnError);
    // Pipelined behind a request still being answered: that answer belongs to the parser that let go of the socket.
    const pending = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (pending) pending.once('finish', () => this.#replay(socket as Socket, replay));
    else this.#replay(socket as Socket, replay);
  }

  #replay(socket: Socket, bytes: Buffer): void {
    socket.off('error', destroyOnError);
    if (!socket.writable) return;
    // The keep-alive timer a finished answer set belongs to the old parser too; a new one sets its own.
    socket.setTimeout(this.server.timeout);
    socket.unshift(bytes);
    this.server.emit('connection', socket);
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
 * How often Node looks for requests past headers_timeout_ms or
 * request_timeout_ms. Node's default, 30 s, let a slow client hold its socket
 * up to 30 s past its deadline; a quarter of the shorter timeout, at most a
 * second, cuts it within a second. The check walks only connections with a
 * request in progress, so running it often costs little.
 */
export function connectionsCheckingIntervalMs(settings: Pick<ServerConfig, 'headersTimeoutMs' | 'requestTimeoutMs'>): number {
  const shorter = Math.min(settings.headersTimeoutMs, settings.requestTimeoutMs);
  return Math.max(10, Math.min(1000, Math.floor(shorter / 4)));
}

/**
 * Requests Node's parser refuses, or that ran out of time, never reach an
 * app (or no longer can): oversized headers get 431, a request that took too
 * long 408, anything else 400, each with the gateway's JSON error body. A
 * socket already gone, or whose response has begun, gets nothing more.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const response = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || response?.headersSent === true) {
    socket.destroy();
    return;
  }
  endWith(socket, clientErrorCode(err));
}

/**
 * Writes a catalogue error and closes the socket once it is sent: the
 * parser may still be reading (a slow client's next bytes), and a socket
 * left half-open is the slowloris the timeout was meant to end.
 */
function endWith(socket: Duplex, code: ErrorCode): void {
  socket.on('error', destroyOnError);
  socket.once('finish', () => socket.destroy());
  socket.end(rawGatewayError(code));
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}
