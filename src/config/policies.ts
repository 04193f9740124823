import ipaddr from 'ipaddr.js';
import type { AccessList, AccessRules, KeySource, LimitPolicy, LimitSet } from './types.js';
import type { LimitSpec } from '../limit/algorithms/types.js';
import { parseDuration } from './duration.js';

/** One limit as configured (an entry of `limits:`, or the shorthand fields of a rate_limit block). */
export interface RawLimit {
  algorithm?: LimitSpec['algorithm'];
  requests_per_second?: number;
  burst?: number;
  limit?: number;
  window?: string;
  scope?: 'client' | 'route' | 'global';
  mode?: LimitSpec['mode'];
  lease?: string;
}
export interface RawRateLimit extends RawLimit {
  limits?: RawLimit[];
  key?: string[];
  ipv6_subnet?: number;
  headers?: { legacy?: boolean; draft?: boolean };
  on_limit?: { delay_up_to: string; max_queue?: number };
  unverified_key_envelope?: { multiplier: number } | false;
}

export const LIMIT_FIELDS = ['algorithm', 'requests_per_second', 'burst', 'limit', 'window', 'scope', 'mode', 'lease'] as const;

export const POLICY_DEFAULTS = {
  key: ['header:x-api-key', 'ip'],
  ipv6_subnet: 64,
  headers: { legacy: true, draft: true },
  max_queue: 10,
  lease: '1m',
  unverified_key_envelope: { multiplier: 10 },
} as const;

/** The limits a rate_limit block states itself: its `limits:` list, or its shorthand fields as one limit; none when it states neither. */
export function ownLimits(raw: RawRateLimit): RawLimit[] | undefined {
  if (raw.limits) return raw.limits;
  const shorthand: RawLimit = {};
  let any = false;
  for (const field of LIMIT_FIELDS) {
    if (raw[field] === undefined) continue;
    (shorthand as Record<string, unknown>)[field] = raw[field];
    any = true;
  }
  return any ? [shorthand] : undefined;
}

/**
 * A route's rate_limit inherits what it leaves out from the default block:
 * its limits when it states none, and the missing shorthand fields of the
 * default's single limit (so `{ requests_per_second: 20 }` keeps the burst).
 */
export function effectiveLimits(own: RawRateLimit, inherited: RawRateLimit | undefined): RawLimit[] {
  const mine = ownLimits(own);
  const theirs = inherited ? ownLimits(inherited) : undefined;
  if (mine === undefined) return theirs ?? [];
  if (own.limits === undefined && theirs?.length === 1) return [{ ...theirs[0], ...mine[0] }];
  return mine;
}

export function buildPolicy(id: string, own: RawRateLimit, inherited: RawRateLimit | undefined): LimitPolicy {
  const limits = effectiveLimits(own, inherited);
  const onLimit = own.on_limit ?? inherited?.on_limit;
  const envelope = own.unverified_key_envelope ?? inherited?.unverified_key_envelope ?? POLICY_DEFAULTS.unverified_key_envelope;
  return {
    id,
    limits: buildLimits(id, limits),
    key: (own.key ?? inherited?.key ?? POLICY_DEFAULTS.key).map(parseKeySource),
    ipv6Subnet: own.ipv6_subnet ?? inherited?.ipv6_subnet ?? POLICY_DEFAULTS.ipv6_subnet,
    headers: {
      legacy: own.headers?.legacy ?? inherited?.headers?.legacy ?? POLICY_DEFAULTS.headers.legacy,
      draft: own.headers?.draft ?? inherited?.headers?.draft ?? POLICY_DEFAULTS.headers.draft,
    },
    onLimit: onLimit ? { delayUpToMs: parseDuration(onLimit.delay_up_to), maxQueue: onLimit.max_queue ?? POLICY_DEFAULTS.max_queue } : null,
    unverifiedKeyEnvelope: envelope === false ? null : { multiplier: envelope.multiplier },
  };
}

/** A single limit takes its owner's id (the name clients see in RateLimit-Policy); several are numbered `<id>#1`, `<id>#2`. */
export function buildLimits(owner: string, raws: readonly RawLimit[]): LimitSpec[] {
  return raws.map((raw, i) => buildLimit(raws.length === 1 ? owner : `${owner}#${i + 1}`, raw));
}

/** validateConfig() has checked that each algorithm has the fields it needs. */
function buildLimit(id: string, raw: RawLimit): LimitSpec {
  const algorithm = raw.algorithm ?? 'token_bucket';
  const common = { id, algorithm, scope: raw.scope ?? 'client', mode: raw.mode ?? 'enforce', leaseMs: parseDuration(raw.lease ?? POLICY_DEFAULTS.lease) } as const;
  if (algorithm === 'token_bucket' || algorithm === 'gcra') {
    const rate = raw.requests_per_second as number;
    const capacity = raw.burst as number;
    return { ...common, rate, capacity, windowMs: (capacity / rate) * 1000 };
  }
  if (algorithm === 'concurrency') return { ...common, rate: 0, capacity: raw.limit as number, windowMs: 0 };
  const windowMs = parseDuration(raw.window as string);
  const capacity = raw.limit as number;
  return { ...common, rate: capacity / (windowMs / 1000), capacity, windowMs };
}

/**
 * What each kind of client gets on a route: anonymous clients the policy's
 * limits; a client with a plan's key the plan's limits (its own budget,
 * shared across routes) plus the policy's route and global limits, which
 * protect the route whoever calls; a client an unverified key identified the
 * policy's limits plus their address envelope.
 */
export function buildLimitSets(
  policy: LimitPolicy,
  plans: Readonly<Record<string, readonly LimitSpec[]>>,
): { anonymous: LimitSet; unverifiedKey?: LimitSet; plans: Record<string, LimitSet> } {
  const shared = policy.limits.filter((l) => l.scope !== 'client');
  const byPlan: Record<string, LimitSet> = {};
  for (const [name, limits] of Object.entries(plans)) {
    byPlan[name] = { group: `${policy.id}+plan:${name}`, limits: [...limits, ...shared], plan: name };
  }
  const anonymous: LimitSet = { group: policy.id, limits: policy.limits, plan: null };
  const perKey = policy.limits.filter((l) => l.scope === 'client');
  const envelope = policy.unverifiedKeyEnvelope;
  if (envelope === null || perKey.length === 0) return { anonymous, plans: byPlan };
  const envelopes = perKey.map((l) => envelopeOf(l, envelope.multiplier));
  return { anonymous, unverifiedKey: { group: `${policy.id}+unverified_key`, limits: [...policy.limits, ...envelopes], plan: null }, plans: byPlan };
}

/**
 * A per-key limit's envelope: the same algorithm and window with `multiplier`
 * times its budget and rate, counted per address. Without api_keys a key is
 * whatever a client sends, so a client sending a fresh key per request would
 * otherwise never meet a limit. `#` cannot occur in a route path or plan
 * name, so the id cannot collide with a configured one.
 */
export function envelopeOf(limit: LimitSpec, multiplier: number): LimitSpec {
  return { ...limit, id: `${limit.id}#envelope`, scope: 'address', rate: limit.rate * multiplier, capacity: limit.capacity * multiplier };
}

export function parseKeySource(source: string): KeySource {
  if (source === 'ip') return { kind: 'ip' };
  const at = source.indexOf(':');
  const kind = source.slice(0, at);
  const name = source.slice(at + 1);
  if (kind === 'header') return { kind, name: name.toLowerCase() };
  if (kind === 'query') return { kind, name };
  return { kind: 'jwt', claim: name };
}

/** An allow/deny entry is an API key id when api_keys has it, else an address or CIDR (validateConfig() has checked it is one). */
export function parseAccessList(entries: readonly string[] | undefined, knownKeyIds: ReadonlySet<string>): AccessList {
  const cidrs: (readonly [string, number])[] = [];
  const keyIds: string[] = [];
  for (const entry of entries ?? []) {
    if (knownKeyIds.has(entry)) keyIds.push(entry);
    else {
      const cidr = parseCidr(entry);
      if (cidr) cidrs.push(cidr);
    }
  }
  return { cidrs, keyIds };
}

export function parseCidr(entry: string): readonly [string, number] | undefined {
  try {
    if (entry.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(entry);
      return [addr.toString(), bits];
    }
    if (!ipaddr.isValid(entry)) return undefined;
    const addr = ipaddr.parse(entry);
    return [addr.toString(), addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

export function mergeAccess(top: AccessRules, own: { allow?: string[]; deny?: string[] }, knownKeyIds: ReadonlySet<string>): AccessRules {
  const a = parseAccessList(own.allow, knownKeyIds);
  const d = parseAccessList(own.deny, knownKeyIds);
  return {
    allow: { cidrs: [...top.allow.cidrs, ...a.cidrs], keyIds: [...top.allow.keyIds, ...a.keyIds] },
    deny: { cidrs: [...top.deny.cidrs, ...d.cidrs], keyIds: [...top.deny.keyIds, ...d.keyIds] },
  };
}
