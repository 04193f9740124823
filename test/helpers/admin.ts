import type { TestGateway } from './gateway.js';
import { send, type RawResponse } from './http.js';

/** One call to a test gateway's admin API with a bearer token; `body` is sent as JSON. */
export function adminSend(gw: TestGateway, token: string, method: string, path: string, body?: unknown): Promise<RawResponse> {
  if (gw.adminUrl === undefined) throw new Error('this gateway has no admin: section');
  const json = body === undefined ? {} : { 'content-type': 'application/json' };
  return send(gw.adminUrl, path, { method, headers: { authorization: `Bearer ${token}`, ...json }, body: body === undefined ? undefined : JSON.stringify(body) });
}
