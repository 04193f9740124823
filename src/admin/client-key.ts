import ipaddr from 'ipaddr.js';
import type { GatewayConfig, KeySource } from '../config/types.js';
import { parseAddress } from '../routing/client-address.js';
import { digestOf, normaliseIp, unverifiedLabel, unverifiedStateKey, type ClientIdentity } from '../limit/keys.js';
import type { KnownApiKey } from '../limit/api-keys.js';

/** The key store's copy of its keys (keys/table.ts), when key_store is postgres: ids and digests the config does not list. */
export interface StoreKeys {
  key(id: string): KnownApiKey | undefined;
  idOfDigest(digest: string): string | undefined;
}

/** A client named in an admin call, as the gateway names it. */
export interface ResolvedClient {
  /** What overrides are keyed by, answers and audit lines show: `id:`, `ip:`, `key:<12 hex>` or `jwt:<12 hex>`. Never a raw key. */
  readonly label: string;
  /**
   * The state keys the client's limits count under, when the form given
   * determines them: one per configured header/query source for a raw or
   * `sha256:` key (each source keys it apart), the key itself for `id:`/`ip:`.
   * Absent for a label (`key:`, `jwt:`): a digest prefix cannot be reversed.
   */
  readonly stateKeys?: readonly string[];
  /** The identity the limit sets are chosen for; its `key` is the first state key, else the label. */
  readonly identity: ClientIdentity;
}

export const ACCEPTED_FORMS =
  'accepted forms: the API key as the client sends it; key:<12 hex> (the log label, `throttlegate hash-key` prints it); ' +
  'sha256:<64 hex> (from `throttlegate hash-key`); id:<api_keys id>; ip:<address> or ip:<ipv6 net>/<ipv6_subnet>; jwt:<12 hex> (the log label of a JWT client)';

// Prefixes that never name a raw key: a raw key that starts with one is named by its sha256: form.
export const RESERVED_FORM = /^(id|ip|key|sha256|jwt):/;

/**
 * Resolves the `:key` of `/v1/limits/:key` (and /v1/check's key) to the one
 * client the gateway would see, whatever form the operator has in hand; a
 * form no configured key source can produce is an error naming the accepted
 * forms, so nothing is ever set on a client that cannot exist. Pure.
 */
export function resolveClientKey(form: string, config: GatewayConfig, store?: StoreKeys): ResolvedClient | { readonly error: string } {
  const sources = config.routes.flatMap((r) => r.identity.key);
  const keyed = sources.filter((s): s is Extract<KeySource, { kind: 'header' | 'query' }> => s.kind === 'header' || s.kind === 'query');
  const prefix = RESERVED_FORM.exec(form)?.[1];
  const hex = form.slice((prefix?.length ?? 0) + 1);
  switch (prefix) {
    case undefined:
      return byDigest(digestOf(form), keyed, config, 'this key', store);
    case 'sha256':
      return /^[0-9a-f]{64}$/.test(hex) ? byDigest(hex, keyed, config, 'this sha256: key', store) : fail('sha256: takes 64 lower-case hex digits');
    case 'key':
      if (!/^[0-9a-f]{12}$/.test(hex)) return fail('key: takes the 12 hex digits of the log label');
      if (keyed.length === 0) return fail('no route keys clients by a header: or query: source');
      if (config.apiKeys.length > 0 || store !== undefined) return fail('with api_keys configured a key outside them is keyed by its address: use ip:<address>');
      return labelOnly(form, false);
    case 'jwt':
      if (!/^[0-9a-f]{12}$/.test(hex)) return fail('jwt: takes the 12 hex digits of the log label');
      if (config.jwt === null || !sources.some((s) => s.kind === 'jwt')) return fail('no route keys clients by a jwt: source');
      return labelOnly(form, true);
    case 'id': {
      if (store !== undefined) {
        const known = store.key(hex);
        return known === undefined ? fail(`the key store has no key with id "${hex}"`) : idClient(known);
      }
      const entry = config.apiKeys.find((k) => k.id === hex);
      if (entry === undefined) return fail(`no api_keys entry has id "${hex}"`);
      return idClient(entry);
    }
    default:
      return byAddress(hex, config);
  }
}

function fail(why: string): { error: string } {
  return { error: `${why}; ${ACCEPTED_FORMS}` };
}

/** A raw key (hashed here) or its sha256: form: a configured key is its `id:`; without api_keys, the unverified key. */
function byDigest(
  digest: string,
  keyed: readonly Extract<KeySource, { kind: 'header' | 'query' }>[],
  config: GatewayConfig,
  what: string,
  store: StoreKeys | undefined,
): ResolvedClient | { error: string } {
  if (keyed.length === 0) return fail('no route keys clients by a header: or query: source');
  if (store !== undefined) {
    const id = store.idOfDigest(digest);
    const known = id === undefined ? undefined : store.key(id);
    return known === undefined ? fail(`${what} is not in the key store, and the gateway keys such a client by its address: use ip:<address>`) : idClient(known);
  }
  if (config.apiKeys.length > 0) {
    const entry = config.apiKeys.find((k) => k.sha256 === digest);
    return entry === undefined ? fail(`${what} is not in api_keys, and the gateway keys such a client by its address: use ip:<address>`) : idClient(entry);
  }
  const stateKeys = [...new Set(keyed.map((s) => unverifiedStateKey(s, digest)))];
  const label = unverifiedLabel(digest);
  return { label, stateKeys, identity: { key: stateKeys[0] as string, label, keyId: null, plan: null, verified: false } };
}

function idClient(entry: KnownApiKey): ResolvedClient {
  const key = `id:${entry.id}`;
  return { label: key, stateKeys: [key], identity: { key, label: key, keyId: entry.id, plan: entry.plan, verified: true } };
}

function labelOnly(label: string, verified: boolean): ResolvedClient {
  return { label, identity: { key: label, label, keyId: null, plan: null, verified } };
}

/**
 * `ip:<address>`, folded as the gateway folds it (IPv4-mapped to IPv4, IPv6
 * to ipv6_subnet), or an IPv6 net already folded (`ip:2001:db8::/64`) whose
 * length a route uses. Routes that fold IPv6 differently would name one
 * address differently: then only the folded form says which is meant.
 */
function byAddress(text: string, config: GatewayConfig): ResolvedClient | { error: string } {
  const subnets = [...new Set(config.routes.map((r) => r.identity.ipv6Subnet))];
  let address: string;
  let subnet: number | undefined;
  if (text.includes('/')) {
    try {
      const [net, bits] = ipaddr.parseCIDR(text);
      if (net.kind() !== 'ipv6' || !subnets.includes(bits)) return fail(`ip: with a prefix takes an IPv6 net of a configured ipv6_subnet (${subnets.join(', ')})`);
      address = net.toString();
      subnet = bits;
    } catch {
      return fail(`"${text}" is not an IP address`);
    }
  } else {
    // The gateway's own reading of a client address (IPv4-mapped IPv6 is IPv4), so the forms name what it keys.
    const parsed = parseAddress(text);
    if (parsed === undefined) return fail(`"${text}" is not an IP address`);
    address = parsed.toString();
    if (parsed.kind() === 'ipv6') {
      if (subnets.length > 1) return fail(`routes fold IPv6 to different subnets (${subnets.join(', ')}): name the net, ip:<net>/<length>`);
      subnet = subnets[0] ?? 64;
    }
  }
  const key = `ip:${normaliseIp(address, subnet ?? 64)}`;
  return { label: key, stateKeys: [key], identity: { key, label: key, keyId: null, plan: null, verified: false } };
}
