import type { ConfigProblem } from './problems.js';

/**
 * An absolute http(s) URL without credentials, query or fragment: what the
 * gateway accepts for an upstream target and for the OTLP endpoint alike.
 * `credentialsHint` says where credentials go instead, when there is a place.
 */
export function checkPlainUrl(value: string, path: string, credentialsHint = ''): ConfigProblem[] {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return [{ path, message: `"${value}" is not an absolute http(s) URL` }];
  }
  if (url.username || url.password) return [{ path, message: `must not carry credentials${credentialsHint}` }];
  if (url.search || url.hash) return [{ path, message: 'must not carry a query or fragment' }];
  return [];
}
