import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Dispatcher } from 'undici';
import type { RouteConfig } from '../config/types.js';
import type { UpstreamPool } from '../upstream/pool.js';
import type { Target } from '../upstream/target.js';
import { classifyUpstreamError } from './errors.js';
import { clientGoneError } from './client-abort.js';
import { forwardRequestHeaders } from './headers.js';
import { writeGatewayError, writeResponseHead } from './response-head.js';

/** What every request of one route shares: built once per route, never per request. */
export interface RouteForwarding {
  readonly route: RouteConfig;
  readonly pool: UpstreamPool;
  /** Told of every upstream failure (metrics); the access line reports it too. */
  readonly onUpstreamError: (route: RouteConfig, reason: string) => void;
}

const kForward = Symbol('throttlegate.forward');
const kTarget = Symbol('throttlegate.target');
type Res = ServerResponse & { [kForward]?: Forward | undefined };
type Raw = FastifyRequest['raw'] & { [kTarget]?: Target };

/** Keeps the target the proxy's preHandler chose on the request: the access line names it, the WebSocket handler dials it. */
export function holdTarget(request: FastifyRequest, target: Target): void {
  (request.raw as Raw)[kTarget] = target;
  request.gateway.target = target.config.url;
}

export function heldTarget(request: FastifyRequest): Target | undefined {
  return (request.raw as Raw)[kTarget];
}

/**
 * Forwards one request of a route, called by the route's proxy preHandler
 * with the target it chose and `dest`, the path to send (the route's rewrite
 * of the canonical path, upstream.ts forwardedPath). The reply is hijacked
 * and one Forward object carries the request to undici's dispatcher and the
 * response into `reply.raw` (see Forward).
 */
export function createForwarder(shared: RouteForwarding) {
  return function forward(request: FastifyRequest, reply: FastifyReply, target: Target, dest: string): void {
    reply.hijack();
    // A client gone already (while it waited in a limit queue, say) gets no upstream request at all.
    if (reply.raw.destroyed) return;
    new Forward(shared, request, reply, target, dest).send();
  };
}

// The response's listeners are these two shared functions (`this` is the response), not per-request closures.
function onResponseClose(this: Res): void {
  if (!this.writableFinished) this[kForward]?.clientGone();
}
function onResponseDrain(this: Res): void {
  this[kForward]?.drained();
}

/**
 * One proxied request, as an undici dispatch handler (the same contract as
 * undici's own `stream()`; see IMPLEMENTATION.md for why the older handler
 * methods): the response head is written straight into the client's
 * ServerResponse, each body chunk is written as it arrives, and a full
 * client socket (`write()` false) pauses undici's parser for this
 * connection until 'drain', so a slow client makes the gateway read the
 * upstream slowly instead of buffering. A client that goes away aborts the
 * dispatch (undici closes the upstream connection); an upstream that fails
 * after the head was sent leaves the client's response broken (socket
 * destroyed, never a clean end).
 */
class Forward {
  readonly #shared: RouteForwarding;
  readonly #request: FastifyRequest;
  readonly #res: Res;
  readonly #opts: Dispatcher.DispatchOptions & { headers: Record<string, string | string[]> };
  #target: Target;
  #tried: Target[] | undefined = undefined;
  #abort: ((err?: Error) => void) | undefined = undefined;
  #resume: (() => void) | undefined = undefined;
  #gone = false;
  #done = false;
  #headSent = false;
  #waitingForDrain = false;

  constructor(shared: RouteForwarding, request: FastifyRequest, reply: FastifyReply, target: Target, dest: string) {
    this.#shared = shared;
    this.#request = request;
    this.#res = reply.raw;
    this.#target = target;
    // Fastify hands GET and HEAD over without a body; otherwise the plugin's parser gave the raw stream (or limit.ts's counter).
    const body = request.body;
    const timeout = shared.route.timeoutMs;
    this.#opts = {
      // The query exactly as it arrived, never re-encoded.
      path: dest + request.gateway.query,
      method: request.method as Dispatcher.HttpMethod,
      headers: forwardRequestHeaders(request, target.host) as Record<string, string | string[]>,
      body: body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function' ? (body as Readable) : null,
      headersTimeout: timeout,
      bodyTimeout: timeout,
    };
    this.#res[kForward] = this;
    this.#res.once('close', onResponseClose);
  }

  send(): void {
    this.#target.inFlight++;
    this.#target.pool.dispatch(this.#opts, this);
  }

  /** The client closed its connection before the response was complete. */
  clientGone(): void {
    if (this.#done) return;
    this.#gone = true;
    // Not yet connected (waiting in the pool's queue): onConnect aborts it.
    this.#abort?.(clientGoneError());
  }

  drained(): void {
    this.#waitingForDrain = false;
    this.#resume?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#gone) abort(clientGoneError());
    else this.#abort = abort;
  }

  onHeaders(status: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx (a 100 Continue of the upstream's own) is this hop's business, not the client's.
    if (status < 200) return true;
    this.#shared.pool.responded(this.#target, status);
    this.#resume = resume;
    this.#headSent = true;
    // An upstream that answers before the client's body is all read: the connection cannot carry another request.
    writeResponseHead(this.#res, status, rawHeaders, this.#request.gateway.decision, !this.#request.raw.complete);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.#res.write(chunk)) return true;
    if (!this.#waitingForDrain) {
      this.#waitingForDrain = true;
      this.#res.once('drain', onResponseDrain);
    }
    return false;
  }

  onComplete(): void {
    this.#finish();
    this.#res.end();
  }

  onError(err: Error): void {
    if (this.#done) return;
    this.#finish();
    // The client went away: nothing the target did, and no one to answer (the access line says 499).
    if (this.#gone) return;
    if (!this.#headSent) {
      const next = this.#shared.pool.failed(this.#target, err, (this.#tried ??= [this.#target]), this.#opts.method, this.#opts.body !== null);
      if (next !== undefined) return this.#retry(next);
    }
    const failure = classifyUpstreamError(err);
    this.#request.gateway.upstreamError = { reason: failure.reason, error: err };
    this.#shared.onUpstreamError(this.#shared.route, failure.reason);
    // Mid-body: the client must see a broken response, never a complete one.
    if (this.#headSent) this.#res.destroy();
    else writeGatewayError(this.#res, failure.code, this.#request.gateway.decision, !this.#request.raw.complete);
  }

  #retry(next: Target): void {
    this.#done = false;
    this.#target = next;
    this.#opts.headers.host = next.host;
    this.#request.gateway.retries++;
    // The access line names the target that finally served.
    this.#request.gateway.target = next.config.url;
    this.#res[kForward] = this;
    // Out of undici's error path before dispatching again.
    queueMicrotask(() => this.send());
  }

  #finish(): void {
    this.#done = true;
    this.#abort = undefined;
    this.#target.inFlight--;
    this.#res[kForward] = undefined;
  }
}
