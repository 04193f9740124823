import type { RouteConfig } from '../config/types.js';
import { accessMatcherOf } from './access.js';
import type { ClientIdentity } from './keys.js';
import type { ActiveOverride } from './overrides.js';

/** What settles a request before its limits: deny lists and blocks (403), require_api_key (401), allow lists (no limits). */
export type Gate = 'denied' | 'blocked' | 'invalid_api_key' | 'bypassed';

/**
 * The gate in force for a client on a route, in the order the gateway
 * applies them (deny wins over everything, a block over a key, a key check
 * over an allow list), or undefined when the limits decide. One function for
 * the request path, the admin API's explain and simulate, so they agree.
 */
export function gateOf(route: RouteConfig, client: ClientIdentity, ip: string, override: ActiveOverride | undefined): Gate | undefined {
  const verdict = accessMatcherOf(route).decide(ip, client.keyId);
  if (verdict === 'deny') return 'denied';
  if (override?.override.kind === 'block') return 'blocked';
  if (client.deadKey === true || (route.requireApiKey && !client.verified)) return 'invalid_api_key';
  return verdict === 'allow' ? 'bypassed' : undefined;
}
