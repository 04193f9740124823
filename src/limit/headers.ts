import type { LimitPolicy } from '../config/types.js';
import type { LimitDecision } from './decision.js';

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

type HeaderSink = { header(name: string, value: string): unknown };

/**
 * Renders a decision as headers:
 * - legacy family: X-RateLimit-Limit (burst), -Remaining (whole tokens left), -Reset (seconds until full);
 * - IETF draft-ietf-httpapi-ratelimit-headers (-08 and later):
 *   `RateLimit-Policy: "<id>";q=<burst>;w=<seconds to refill from empty>` and
 *   `RateLimit: "<id>";r=<remaining>;t=<seconds until full>`;
 * - Retry-After on refusals.
 */
export function writeLimitHeaders(reply: HeaderSink, d: LimitDecision): void {
  const p = d.policy;
  const fixed = policyValues(p);
  if (p.headers.legacy) {
    reply.header(LIMIT_HEADER_NAMES.limit, fixed.limit);
    reply.header(LIMIT_HEADER_NAMES.remaining, String(d.remaining));
    reply.header(LIMIT_HEADER_NAMES.reset, String(d.resetSeconds));
  }
  if (p.headers.draft) {
    reply.header(LIMIT_HEADER_NAMES.draftPolicy, fixed.draftPolicy);
    reply.header(LIMIT_HEADER_NAMES.draftState, `${fixed.draftId};r=${d.remaining};t=${d.resetSeconds}`);
  }
  if (!d.allowed) reply.header(LIMIT_HEADER_NAMES.retryAfter, String(d.retryAfterSeconds));
}

/** The parts of the headers that depend on the policy alone, rendered once per policy. */
interface PolicyValues {
  readonly limit: string;
  readonly draftId: string;
  readonly draftPolicy: string;
}

const rendered = new WeakMap<LimitPolicy, PolicyValues>();
function policyValues(p: LimitPolicy): PolicyValues {
  let v = rendered.get(p);
  if (v === undefined) {
    const draftId = sfString(p.id);
    v = { limit: String(p.burst), draftId, draftPolicy: `${draftId};q=${p.burst};w=${Math.max(1, Math.ceil(p.burst / p.rate))}` };
    rendered.set(p, v);
  }
  return v;
}

/** An RFC 8941 sf-string. Policy ids are route paths or "default": printable ASCII. */
function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
