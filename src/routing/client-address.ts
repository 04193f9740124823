import ipaddr from 'ipaddr.js';
import type { TrustProxy } from '../config/types.js';

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/** Whether the hop at `hop` (0: the socket peer) may speak for the one before it. Built once per config. */
export type ProxyTrust = (address: Address, hop: number) => boolean;

/** Who sent a request, after trust_proxy. */
export interface ClientAddress {
  /** The client: the last address the walk reached, canonical (IPv4-mapped IPv6 as IPv4). */
  readonly ip: string;
  /** The walked chain, client first and the socket peer last: the X-Forwarded-For sent upstream. */
  readonly chain: readonly string[];
  /** The walk stopped at an X-Forwarded-For entry that is not an IP address. */
  readonly malformed: boolean;
}

// proxy-addr's names, which Fastify's trustProxy took before this module did.
const NAMED_RANGES: Record<string, string[]> = {
  loopback: ['127.0.0.1/8', '::1/128'],
  linklocal: ['169.254.0.0/16', 'fe80::/10'],
  uniquelocal: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', 'fc00::/7'],
};

// The longest textual IPv6 address ("ffff:...:ffff:255.255.255.255"): longer entries are not parsed at all.
const MAX_ADDRESS_LENGTH = 45;

/** trust_proxy as a predicate: true/false, "the nearest N hops", or addresses/CIDRs the hop must be in. Throws on a bad entry. */
export function compileTrust(setting: TrustProxy): ProxyTrust {
  if (typeof setting === 'boolean') return () => setting;
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  const ranges = setting.flatMap((entry) => NAMED_RANGES[entry] ?? [entry]).map(parseRange);
  return (address) => ranges.some(([net, bits]) => net.kind() === address.kind() && address.match(net, bits));
}

/**
 * Walks X-Forwarded-For from the right, starting at the socket peer: while
 * the current hop is trusted, the entry to its left is the next hop. An entry
 * that is not an IP address (junk, `999.1.1.1`, a port, a zone) ends the walk
 * at the last valid hop, so a client behind a proxy that appends cannot mint
 * a fresh identity per request. Every address comes out in one canonical
 * spelling (`01.2.3.4` is refused, `::FFFF:1.2.3.4` is `1.2.3.4`), so
 * spellings of one address cannot either.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | readonly string[] | undefined, trust: ProxyTrust): ClientAddress {
  const peerText = collapseMapped(peer ?? '');
  const header = typeof forwardedFor === 'string' ? forwardedFor : (forwardedFor?.join(',') ?? '');
  // A link-local peer carries its zone (`fe80::1%eth0`): it names the interface, not the host.
  const peerAddress = header.trim() === '' ? undefined : parseAddress(peerText.split('%')[0] as string);
  if (peerAddress === undefined) return { ip: peerText, chain: peerText === '' ? [] : [peerText], malformed: false };
  const entries = header.split(',');
  const walked = [peerText];
  let current: Address = peerAddress;
  let malformed = false;
  for (let i = entries.length - 1, hop = 0; i >= 0 && trust(current, hop); i--, hop++) {
    const next = parseAddress((entries[i] as string).trim());
    if (next === undefined) {
      malformed = true;
      break;
    }
    walked.push(next.toString());
    current = next;
  }
  const ip = walked[walked.length - 1] as string;
  return { ip, chain: walked.reverse(), malformed };
}

/** A strict IP address: dotted-quad IPv4 (no octal, hex or short forms) or IPv6 without a zone; IPv4-mapped IPv6 becomes IPv4. */
export function parseAddress(text: string): Address | undefined {
  if (text.length === 0 || text.length > MAX_ADDRESS_LENGTH) return undefined;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!text.includes(':') || text.includes('%') || !ipaddr.IPv6.isValid(text)) return undefined;
  const v6 = ipaddr.IPv6.parse(text);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** The socket's address as the key code spells it: the OS writes it canonically, but dual-stack sockets map IPv4. */
function collapseMapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function parseRange(entry: string): [Address, number] {
  const slash = entry.lastIndexOf('/');
  const text = slash === -1 ? entry : entry.slice(0, slash);
  if (!ipaddr.isValid(text)) throw new TypeError(`trust_proxy: invalid address "${entry}"`);
  let net: Address = ipaddr.parse(text);
  let bits = net.kind() === 'ipv4' ? 32 : 128;
  if (slash !== -1) {
    const suffix = entry.slice(slash + 1);
    const mask = net.kind() === 'ipv4' && ipaddr.IPv4.isValidFourPartDecimal(suffix) ? ipaddr.IPv4.parse(suffix).prefixLengthFromSubnetMask() : null;
    bits = /^\d+$/.test(suffix) ? Number(suffix) : (mask ?? -1);
  }
  if (!(bits > 0 && bits <= (net.kind() === 'ipv4' ? 32 : 128))) throw new TypeError(`trust_proxy: invalid range "${entry}"`);
  // Hops are compared in IPv4 when they are IPv4-mapped, so mapped ranges are too.
  if (net instanceof ipaddr.IPv6 && net.isIPv4MappedAddress() && bits >= 96) {
    net = net.toIPv4Address();
    bits -= 96;
  }
  return [net, bits];
}
