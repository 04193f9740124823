import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';

/** The `code` of the error an upstream request fails with when its client went away (see clientGoneSignal). */
export const CLIENT_GONE = 'TG_CLIENT_GONE';

/**
 * The other form of `signal` undici's request takes besides an AbortSignal:
 * an EventEmitter that emits 'abort', with `aborted` and `reason`. Every
 * proxied request gets one and almost none fire: an AbortController with its
 * EventTarget listeners costs some twenty times as much per request.
 */
class ClientGone extends EventEmitter {
  aborted = false;
  reason: Error | undefined;

  fire(): void {
    this.aborted = true;
    this.reason = Object.assign(new Error('the client closed the connection'), { code: CLIENT_GONE });
    this.emit('abort');
  }
}

/**
 * A signal for the upstream request that fires when the client's response
 * closes before it was complete: over HTTP/1.1 a client cancels a request
 * only by closing the connection. undici then cancels the upstream request
 * at once (a queued one leaves the pool's queue, a sent one has its upstream
 * connection closed), so impatient clients of a slow upstream cannot hold
 * the pool's connections until the route's timeout and starve everyone else.
 */
export function clientGoneSignal(res: ServerResponse): ClientGone {
  const signal = new ClientGone();
  // Gone already (while the request waited in a limit queue, say): undici reads `aborted` first.
  if (res.destroyed) signal.fire();
  else res.once('close', () => !res.writableFinished && signal.fire());
  return signal;
}
