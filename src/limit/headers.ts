import type { LimitSpec } from './algorithms/types.js';
import { headerSeconds, type LimitDecision } from './decision.js';
import type { LimitStep } from './stores/store.js';

/** Every response header the limiter writes; the proxy strips an upstream's copies so the gateway's win. */
export const LIMIT_HEADER_NAMES = {
  limit: 'x-ratelimit-limit',
  remaining: 'x-ratelimit-remaining',
  reset: 'x-ratelimit-reset',
  retryAfter: 'retry-after',
  draftPolicy: 'ratelimit-policy',
  draftState: 'ratelimit',
} as const;

export const ALL_LIMIT_HEADERS: readonly string[] = Object.values(LIMIT_HEADER_NAMES);

/** A header object as Node's writeHead takes it: the proxy's response head, or a copy for a Fastify reply. */
export type HeaderFields = Record<string, string | number | string[] | undefined>;

/**
 * Renders a decision as headers, for the headline limit (decision.ts), into
 * `out` (and returns it):
 * - legacy family: X-RateLimit-Limit (burst, or requests per window, or slots),
 *   -Remaining (whole units left), -Reset (seconds until the state is back to a new client's);
 * - IETF draft-ietf-httpapi-ratelimit-headers (-08 and later):
 *   `RateLimit-Policy` lists every enforced limit, `"<id>";q=<quota>;w=<window s>`,
 *   and `RateLimit: "<id>";r=<remaining>;t=<reset s>` names the headline one;
 * - Retry-After on refusals: whole seconds until the request would pass.
 * Shadow limits are never shown: clients see the limits that bind them.
 * What depends on config alone (the limit, the policy list) is a string
 * rendered once per limit set; only remaining and reset are per request.
 */
export function addLimitHeaders<T extends HeaderFields>(out: T, d: LimitDecision): T {
  // Every limit shadow, or the store unreachable: there are no numbers to tell.
  if (d.headline === -1 || d.reason === 'store_unavailable') return out;
  const spec = d.set.limits[d.headline] as LimitSpec;
  const step = d.steps[d.headline] as LimitStep;
  const fixed = rendered(d.set.limits, spec);
  const reset = headerSeconds(step.resetMs);
  const fields = out as HeaderFields;
  if (d.policy.headers.legacy) {
    fields[LIMIT_HEADER_NAMES.limit] = fixed.limit;
    fields[LIMIT_HEADER_NAMES.remaining] = String(step.remaining);
    fields[LIMIT_HEADER_NAMES.reset] = String(reset);
  }
  if (d.policy.headers.draft) {
    fields[LIMIT_HEADER_NAMES.draftPolicy] = fixed.draftPolicy;
    fields[LIMIT_HEADER_NAMES.draftState] = `${fixed.draftId};r=${step.remaining};t=${reset}`;
  }
  if (!d.allowed) fields[LIMIT_HEADER_NAMES.retryAfter] = String(d.retryAfterSeconds);
  return out;
}

/** The same headers on a Fastify reply (the admin API's `/v1/check`, the gateway's own error answers). */
export function writeLimitHeaders(reply: { headers(values: HeaderFields): unknown }, d: LimitDecision): void {
  reply.headers(addLimitHeaders({}, d));
}

/** The parts of the headers that depend on config alone, rendered once per limit set and limit. */
interface Rendered {
  readonly limit: string;
  readonly draftId: string;
  readonly draftPolicy: string;
}

const cache = new WeakMap<readonly LimitSpec[], { policy: string; bySpec: Map<LimitSpec, Rendered> }>();
function rendered(limits: readonly LimitSpec[], spec: LimitSpec): Rendered {
  let entry = cache.get(limits);
  if (entry === undefined) {
    const policy = limits.filter((l) => l.mode === 'enforce').map(draftPolicyItem).join(', ');
    entry = { policy, bySpec: new Map() };
    cache.set(limits, entry);
  }
  let r = entry.bySpec.get(spec);
  if (r === undefined) {
    r = { limit: String(spec.capacity), draftId: sfString(spec.id), draftPolicy: entry.policy };
    entry.bySpec.set(spec, r);
  }
  return r;
}

/** `w` is the window: refill from empty for the buckets; concurrency has none. */
function draftPolicyItem(l: LimitSpec): string {
  const id = sfString(l.id);
  if (l.algorithm === 'concurrency') return `${id};q=${l.capacity}`;
  const w = l.algorithm === 'token_bucket' || l.algorithm === 'gcra' ? Math.ceil(l.capacity / l.rate - 1e-9) : Math.ceil(l.windowMs / 1000);
  return `${id};q=${l.capacity};w=${Math.max(1, w)}`;
}

/** An RFC 8941 sf-string. Limit ids come from route paths and plan names: printable ASCII. */
function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
