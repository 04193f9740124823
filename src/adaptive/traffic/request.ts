/**
 * A generated event as the HTTP request the `traffic` command sends: the
 * client's own headers (an absent one stays absent, since no_user_agent and
 * no_accept are features), its address in X-Forwarded-For, and for a POST a
 * JSON body of the event's size. A login body carries the right password
 * exactly when loginSucceeds says so, which is how the bundled origin, seeing
 * only the request, answers as originStatus does.
 */
import type { TrafficEvent } from './classes.js';
import { LOGIN_PASSWORD, loginSucceeds } from './origin-model.js';
import { hash32 } from './prng.js';

/** What is sent for one event. */
export interface OutgoingRequest {
  readonly method: string;
  /** Path and query, e.g. `/api/search?q=lamp`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  /** undefined for a request without a body. */
  readonly body: string | undefined;
}

/** The request for an event (pure). */
export function toRequest(event: TrafficEvent): OutgoingRequest {
  const headers: Record<string, string> = { 'x-forwarded-for': event.ip };
  if (event.userAgent !== undefined) headers['user-agent'] = event.userAgent;
  if (event.accept !== undefined) headers.accept = event.accept;
  if (event.acceptLanguage !== undefined) headers['accept-language'] = event.acceptLanguage;
  if (event.apiKey !== undefined) headers['x-api-key'] = event.apiKey;
  let body: string | undefined;
  if (event.method === 'POST') {
    body = event.path === '/api/login' ? loginBody(event) : padded({}, event.bodyBytes);
    headers['content-type'] = 'application/json';
  }
  return { method: event.method, path: event.path + event.query, headers, body };
}

/** A login body: the right password when the attempt succeeds, else a guess that is never it. */
function loginBody(event: TrafficEvent): string {
  const tag = hash32(`${event.client}|${event.at}`).toString(16);
  const password = loginSucceeds(event) ? LOGIN_PASSWORD : `guess-${tag}`;
  return padded({ user: `user-${tag.slice(0, 4)}`, password }, event.bodyBytes);
}

/** JSON of `fields` padded with a `pad` field to `bytes` (ASCII, so chars are bytes); never shorter than the fields need. */
export function padded(fields: Record<string, string>, bytes: number): string {
  const bare = JSON.stringify({ ...fields, pad: '' });
  return JSON.stringify({ ...fields, pad: 'x'.repeat(Math.max(0, bytes - bare.length)) });
}
