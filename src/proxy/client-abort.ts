/** The `code` of the error an upstream request is aborted with when its client went away. */
export const CLIENT_GONE = 'TG_CLIENT_GONE';

/**
 * The reason a forwarded request is aborted with when its client closed the
 * connection before the response was complete: over HTTP/1.1 a client
 * cancels a request only that way. undici then cancels the upstream request
 * at once (a queued one is dropped as it reaches a connection, a sent one has
 * its upstream connection closed), so impatient clients of a slow upstream
 * cannot hold the pool's connections until the route's timeout and starve
 * everyone else. Made only when a client does go: almost no request pays for it.
 */
export function clientGoneError(): Error {
  return Object.assign(new Error('the client closed the connection'), { code: CLIENT_GONE });
}
