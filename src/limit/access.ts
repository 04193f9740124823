import ipaddr from 'ipaddr.js';
import type { AccessList, AccessRules, RouteConfig } from '../config/types.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** allow: / deny: compiled for one route. Deny wins over allow. */
export class AccessMatcher {
  readonly #allow: CompiledList;
  readonly #deny: CompiledList;
  /** Nothing listed: the check costs nothing. */
  readonly empty: boolean;

  constructor(rules: AccessRules) {
    this.#allow = compile(rules.allow);
    this.#deny = compile(rules.deny);
    this.empty = this.#allow.size === 0 && this.#deny.size === 0;
  }

  /** `deny` (403), `allow` (bypass limits) or undefined (limits apply). */
  decide(ip: string, keyId: string | null): 'allow' | 'deny' | undefined {
    if (this.empty) return undefined;
    const addr = parse(ip);
    if (this.#deny.matches(addr, keyId)) return 'deny';
    if (this.#allow.matches(addr, keyId)) return 'allow';
    return undefined;
  }
}

// Compiled once per route of a config (routes are frozen and live as long as their config).
const byRoute = new WeakMap<RouteConfig, AccessMatcher>();

/** The route's allow/deny lists, compiled on first use. */
export function accessMatcherOf(route: RouteConfig): AccessMatcher {
  let m = byRoute.get(route);
  if (m === undefined) byRoute.set(route, (m = new AccessMatcher(route.access)));
  return m;
}

interface CompiledList {
  readonly size: number;
  matches(addr: ipaddr.IPv4 | ipaddr.IPv6 | undefined, keyId: string | null): boolean;
}

function compile(list: AccessList): CompiledList {
  const ranges: Range[] = list.cidrs.map(([a, bits]) => [ipaddr.parse(a), bits]);
  const ids = new Set(list.keyIds);
  return {
    size: ranges.length + ids.size,
    matches(addr, keyId) {
      if (keyId !== null && ids.has(keyId)) return true;
      if (addr === undefined) return false;
      for (const [range, bits] of ranges) if (range.kind() === addr.kind() && addr.match(range, bits)) return true;
      return false;
    },
  };
}

/** ipaddr.process collapses IPv4-mapped IPv6, so `::ffff:10.0.0.1` matches `10.0.0.0/8`. */
function parse(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  try {
    return ipaddr.process(ip);
  } catch {
    return undefined;
  }
}
