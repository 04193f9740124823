import type { RouteConfig } from '../config/types.js';

/**
 * Longest path-prefix match on segment boundaries: `/api` matches `/api`,
 * `/api/` and `/api/x`, never `/apiary`. Input must be a canonical path
 * (normaliseTarget), so what matches here is exactly what is forwarded.
 */
export class RouteTable {
  readonly #routes: readonly RouteConfig[];

  constructor(routes: readonly RouteConfig[]) {
    // Longest first, so the first hit is the most specific.
    this.#routes = [...routes].sort((a, b) => b.path.length - a.path.length);
  }

  match(path: string): RouteConfig | undefined {
    for (const route of this.#routes) {
      if (isUnderPrefix(path, route.path)) return route;
    }
    return undefined;
  }
}

export function isUnderPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || path.charCodeAt(prefix.length) === 47 /* / */;
}
