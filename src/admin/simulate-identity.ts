import type { IncomingMessage } from 'node:http';
import type { ApiKeyConfig, GatewayConfig, RouteConfig } from '../config/types.js';
import { hashKey, identifyClient, ipIdentity, type ClientIdentity } from '../limit/keys.js';
import { ApiKeyIndex } from '../limit/api-keys.js';
import { createJwtVerifier } from '../limit/jwt.js';
import type { LogRequest } from './simulate-log.js';

/** Who sent a replayed request, and the address allow/deny lists see. */
export interface ReplayIdentity {
  readonly client: ClientIdentity;
  readonly ip: string;
}

/**
 * A line without an address stands for a client whose address is unknown:
 * all such clients share one `ip:unknown` state, and no CIDR matches it
 * (AccessMatcher cannot parse it), as no address can be blamed.
 */
export const UNKNOWN_IP = 'unknown';

const GATEWAY_LABEL = /^(?:id:|key:[0-9a-f]{12}$|jwt:[0-9a-f]{12}$)/;

const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * Identifies the client of each replayed line on a route, through the
 * gateway's own code where the line carries what the gateway would see:
 * - `headers` / `key` / `ip`: keys.ts identifyClient on an IncomingMessage
 *   stand-in holding only `headers` (all identifyClient reads); a `key` is
 *   presented through the route's first header or query source, as a client
 *   of that route would send it;
 * - only a gateway log label: the label is the identity. `ip:` is re-keyed by
 *   ipIdentity (so ipv6_subnet applies); `id:` takes its api_keys entry and so
 *   its plan; an id the config no longer has, `key:` and `jwt:` labels stand
 *   for themselves (the log holds neither the key nor the token, nor, for
 *   them, the address); any other text is taken for a raw key and shown as
 *   its `key:<12 hex>` digest, so a report never prints one.
 */
export function createIdentifier(config: GatewayConfig, now: () => number) {
  const apiKeys = config.apiKeys.length > 0 ? new ApiKeyIndex(config.apiKeys) : null;
  const jwt = config.jwt ? createJwtVerifier(config.jwt) : null;
  const byId = new Map<string, ApiKeyConfig>(config.apiKeys.map((k) => [k.id, k]));
  // Labels repeat on every line of a client: each identity is built once (per ipv6_subnet, for ip: labels).
  const labels = new Map<string, ClientIdentity>();
  const ipLabels = new Map<number, Map<string, ReplayIdentity>>();

  function fromLabel(label: string, ip: string | undefined, subnet: number): ReplayIdentity {
    if (label.startsWith('ip:')) {
      let bySubnet = ipLabels.get(subnet);
      if (bySubnet === undefined) ipLabels.set(subnet, (bySubnet = new Map()));
      let identity = bySubnet.get(label);
      if (identity === undefined) {
        const addr = label.slice(3);
        const slash = addr.indexOf('/');
        const at = slash === -1 ? addr : addr.slice(0, slash);
        identity = { client: ipIdentity(at, subnet), ip: at };
        if (bySubnet.size >= 100_000) bySubnet.clear();
        bySubnet.set(label, identity);
      }
      return identity;
    }
    let client = labels.get(label);
    if (client === undefined) {
      const known = label.startsWith('id:') ? byId.get(label.slice(3)) : undefined;
      // Not one of the gateway's label forms: it may be a raw key, so it is shown, like one, as a digest.
      const shown = GATEWAY_LABEL.test(label) ? label : hashKey(label);
      client = known
        ? { key: `id:${known.id}`, label, keyId: known.id, plan: known.plan, verified: true }
        : { key: shown, label: shown, keyId: null, plan: null, verified: label.startsWith('jwt:') };
      if (labels.size >= 100_000) labels.clear();
      labels.set(label, client);
    }
    return { client, ip: ip ?? UNKNOWN_IP };
  }

  return function identify(req: LogRequest, route: RouteConfig, query: string): ReplayIdentity {
    const { key: sources, ipv6Subnet } = route.identity;
    if (req.client !== undefined && req.headers === undefined && req.key === undefined) return fromLabel(req.client, req.ip, ipv6Subnet);
    let headers = req.headers ?? NO_HEADERS;
    let q = query;
    if (req.key !== undefined) {
      const source = sources.find((s) => s.kind === 'header' || s.kind === 'query');
      // A header or parameter the line already carries wins, as the first value does in identifyClient.
      if (source?.kind === 'header' && headers[source.name] === undefined) headers = { ...headers, [source.name]: req.key };
      else if (source?.kind === 'query') q = `${q === '' ? '?' : `${q}&`}${encodeURIComponent(source.name)}=${encodeURIComponent(req.key)}`;
    }
    const ip = req.ip ?? (req.client?.startsWith('ip:') ? req.client.slice(3).split('/')[0] : undefined) ?? UNKNOWN_IP;
    const client = identifyClient({ headers } as IncomingMessage, q, sources, ip, ipv6Subnet, { apiKeys, jwt, now: now() });
    return { client, ip };
  };
}
