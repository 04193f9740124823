import type { RouteConfig } from '../config/types.js';

/** The route a request goes to, or why there is none. */
export type RouteMatch =
  | { readonly route: RouteConfig; readonly refusal?: undefined }
  | { readonly route?: undefined; readonly refusal: 'TG_ERR_ROUTE_NOT_FOUND' }
  /** `on`: the most specific route on the path, which takes other methods (the metric and log label of the 405). */
  | { readonly route?: undefined; readonly refusal: 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED'; readonly on: RouteConfig };

const NOT_FOUND: RouteMatch = { refusal: 'TG_ERR_ROUTE_NOT_FOUND' };

/**
 * Longest path-prefix match on segment boundaries: `/api` matches `/api`,
 * `/api/` and `/api/x`, never `/apiary`. Input must be a canonical path
 * (normaliseTarget), so what matches here is exactly what is forwarded.
 *
 * A route may also name a host (exact, or `*.example.com` for any subdomain)
 * and methods. Among routes on one path, an exact host wins over a wildcard,
 * and a wildcard over none. A method a route does not take falls through to
 * the next route that matches; a path some route would take with another
 * method is answered 405, anything else 404.
 */
export class RouteTable {
  readonly #routes: readonly { route: RouteConfig; hit: RouteMatch; notAllowed: RouteMatch; methods: ReadonlySet<string>; matchesHost: (host: string) => boolean }[];

  constructor(routes: readonly RouteConfig[]) {
    this.#routes = [...routes]
      .sort((a, b) => b.path.length - a.path.length || hostRank(b.host) - hostRank(a.host) || a.index - b.index)
      .map((route) => ({ route, hit: { route }, notAllowed: { refusal: 'TG_ERR_REQUEST_METHOD_NOT_ALLOWED', on: route } as const, methods: new Set(route.methods), matchesHost: hostMatcher(route.host) }));
  }

  /** `host` is the request's Host header (any case, port allowed), or '' when absent. */
  match(path: string, method: string, host: string): RouteMatch {
    let notAllowed: RouteMatch | undefined;
    let requestHost: string | undefined;
    for (const entry of this.#routes) {
      if (!isUnderPrefix(path, entry.route.path)) continue;
      if (entry.route.host !== null && !entry.matchesHost((requestHost ??= hostName(host)))) continue;
      if (entry.methods.has(method)) return entry.hit;
      notAllowed ??= entry.notAllowed;
    }
    return notAllowed ?? NOT_FOUND;
  }
}

export function isUnderPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* / */;
}

function hostRank(host: string | null): number {
  if (host === null) return 0;
  return host.startsWith('*.') ? 1 : 2;
}

function hostMatcher(host: string | null): (requestHost: string) => boolean {
  if (host === null) return () => true;
  if (host.startsWith('*.')) {
    const suffix = host.slice(1); // ".example.com"
    return (h) => h.length > suffix.length && h.endsWith(suffix);
  }
  return (h) => h === host;
}

/** The Host header without its port, lower-cased; `[::1]:8080` -> `[::1]`. */
function hostName(header: string): string {
  const end = header.startsWith('[') ? header.indexOf(']') + 1 : header.lastIndexOf(':');
  return (end > 0 ? header.slice(0, end) : header).toLowerCase();
}
