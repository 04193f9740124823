import type { Server } from 'node:http';
import type { Socket } from 'node:net';

type HttpSocket = Socket & { parser?: unknown; _httpMessage?: unknown };

/**
 * Closing a Node server stops its headers_timeout check (server.close()
 * clears the interval) and closeIdleConnections() skips a connection that
 * has not finished a request: so a client that connected and sent nothing,
 * or trickles a head, held a draining gateway open until shutdown_grace_ms.
 * This keeps the deadline during the drain: a connection that has still not
 * handed over a complete request head `headersTimeoutMs` after the close
 * would have been cut by then anyway, and is.
 */
export class HeadDeadlineOnClose {
  readonly #sockets = new Set<HttpSocket>();
  #timer: NodeJS.Timeout | undefined;

  constructor(server: Server) {
    server.on('connection', (socket: HttpSocket) => {
      // A declined upgrade comes back through 'connection' (listener.ts): count it once.
      if (this.#sockets.has(socket)) return;
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
  }

  /** Call once the server is closing; `stop` when it has closed. */
  start(headersTimeoutMs: number): void {
    this.#timer ??= setTimeout(() => {
      for (const socket of this.#sockets) if (awaitingHead(socket)) socket.destroy();
    }, headersTimeoutMs).unref();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

/** Still an HTTP connection (not upgraded: its parser is kept) with no request being answered. */
function awaitingHead(socket: HttpSocket): boolean {
  return socket.parser != null && socket._httpMessage == null;
}
