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
  if (p.headers.legacy) {
    reply.header(LIMIT_HEADER_NAMES.limit, String(p.burst));
    reply.header(LIMIT_HEADER_NAMES.remaining, String(d.remaining));
    reply.header(LIMIT_HEADER_NAMES.reset, String(d.resetSeconds));
  }
  if (p.headers.draft) {
    reply.header(LIMIT_HEADER_NAMES.draftPolicy, draftPolicyValue(p));
    reply.header(LIMIT_HEADER_NAMES.draftState, `${sfString(p.id)};r=${d.remaining};t=${d.resetSeconds}`);
  }
  if (!d.allowed) reply.header(LIMIT_HEADER_NAMES.retryAfter, String(d.retryAfterSeconds));
}

const policyValues = new WeakMap<LimitPolicy, string>();
function draftPolicyValue(p: LimitPolicy): string {
  let v = policyValues.get(p);
  if (v === undefined) {
    v = `${sfString(p.id)};q=${p.burst};w=${Math.max(1, Math.ceil(p.burst / p.rate))}`;
    policyValues.set(p, v);
  }
  return v;
}

/** An RFC 8941 sf-string. Policy ids are route paths or "default": printable ASCII. */
function sfString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}
