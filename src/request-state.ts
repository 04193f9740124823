import type { IncomingMessage } from 'node:http';
import type { RouteConfig } from './config/types.js';
import type { ErrorCode } from './errors.js';
import type { AdmissionRefusal } from './routing/admission.js';
import type { LimitDecision } from './limit/decision.js';
import type { ClientIdentity } from './limit/keys.js';
import type { LimitSet } from './config/types.js';
import type { Assessment } from './adaptive/engine.js';
import type { TraceFields } from './tracing/traceparent.js';

const kUpgrade = Symbol('throttlegate.upgrade');
type Marked = IncomingMessage & { [kUpgrade]?: Buffer };

/**
 * Marks a request that arrived as an HTTP upgrade (the listener's 'upgrade'
 * event), before any app sees it, with the bytes Node had already read past
 * its head: they belong to the upgraded protocol, and a tunnel passes them on.
 */
export function markUpgrade(req: IncomingMessage, head: Buffer): void {
  (req as Marked)[kUpgrade] = head;
}

export function isUpgrade(req: IncomingMessage): boolean {
  return (req as Marked)[kUpgrade] !== undefined;
}

/** The bytes read past an upgrade request's head (see markUpgrade); undefined for any other request. */
export function upgradeHead(req: IncomingMessage): Buffer | undefined {
  return (req as Marked)[kUpgrade];
}

/** What adaptive protection did to a request (enforce) or would have done (shadow). */
export type RiskAction = 'limited' | 'blocked' | 'would_limit' | 'would_block';

/**
 * What the gateway learns about one request as it moves through the hooks,
 * kept on `request.gateway` (declared once so every request has the same shape).
 */
export interface RequestState extends TraceFields {
  /** Canonical path (routing/normalise.ts); what was matched and is forwarded. */
  path: string;
  route: RouteConfig | undefined;
  /** Why admission (routing/admission.ts) refused the request (400, 404, 405, 413), if it did. */
  refusal: AdmissionRefusal | undefined;
  /** An upgrade (WebSocket) handshake: once tunnelled, its access line is written when the socket closes. */
  upgrade: boolean;
  /** The pool target chosen for this request (its URL, as configured), once chosen. */
  target: string | undefined;
  /** Why the request head was refused before routing (too many fields, two Hosts, a bad WebSocket handshake), if it was. */
  badHead: ErrorCode | undefined;
  /** Why the target was refused before routing, if it was. */
  badTarget: string | undefined;
  /** X-Forwarded-For chain as the gateway will forward it (client first). */
  forwardedFor: string;
  /** The client address after trust_proxy: computed once, read by the limiter and the log. */
  clientIp: string;
  /** The query string as it arrived (`?a=b`, or ''): `query:` key sources read it. */
  query: string;
  client: ClientIdentity | undefined;
  /** Settled before any limit: refused by deny (403) or require_api_key (401), or let past every limit by allow. */
  gate: 'denied' | 'blocked' | 'invalid_api_key' | 'bypassed' | 'risk_blocked' | 'overloaded' | undefined;
  decision: LimitDecision | undefined;
  /** The limits this request was held to (a risk band's factor applied), once chosen. */
  limitSet: LimitSet | undefined;
  /** Adaptive protection's view of the client when the request arrived; undefined when off or not assessed. */
  risk: Assessment | undefined;
  /** The limit set is the client's own multiplied by its band's factor (enforce mode). */
  riskScaled: boolean;
  /** What adaptive protection did to this request, or in shadow mode would have done. */
  riskAction: RiskAction | undefined;
  /** How long on_limit held the request before it passed. */
  delayedMs: number | undefined;
  /** Other targets tried after a connect failure (forward.ts), for the span. */
  retries: number;
  /** Set when the upstream failed: the `reason` label and the error. */
  upstreamError: { reason: string; error: unknown } | undefined;
  /** An unexpected error answered with 500; logged with its stack. */
  internalError: Error | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    gateway: RequestState;
  }
}
