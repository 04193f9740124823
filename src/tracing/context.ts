import type { IncomingHttpHeaders } from 'node:http';
import { newSpanId, newTraceId } from './ids.js';
import { boundedTracestate, hexValue, parseTraceparent, SAMPLED, type TraceFields } from './traceparent.js';

/**
 * Every request's trace context, always on: set in the gateway's onRequest
 * hook (gateway/app.ts) so the forwarded headers (proxy/headers.ts), the
 * access line and the span (spans.ts) all read the same one. A valid
 * incoming traceparent is continued (its trace id, its span as the parent,
 * its flags, its tracestate); anything else starts a new trace. Either way
 * the gateway's hop gets a span id of its own, which the upstream receives
 * as its parent.
 *
 * Sampling is decided here, once, since the sampled flag goes upstream:
 * parent-based, as OpenTelemetry's ParentBasedSampler (a continued trace
 * keeps its caller's decision), and for a new trace the trace-id ratio rule
 * of its TraceIdRatioBasedSampler (same arithmetic, so a downstream service
 * with that sampler and the same ratio agrees). `ratioBound` is 0 when
 * tracing is off: new traces then go out unsampled and no arithmetic is done.
 */
export function beginTrace(fields: TraceFields, headers: IncomingHttpHeaders, ratioBound: number): void {
  const traceparent = headers.traceparent;
  if (typeof traceparent === 'string' && parseTraceparent(traceparent, fields)) {
    fields.traceState = boundedTracestate(headers.tracestate);
  } else {
    const traceId = newTraceId();
    fields.traceId = traceId;
    fields.traceFlags = ratioBound > 0 && traceIdBelow(traceId, ratioBound) ? SAMPLED : 0;
  }
  fields.spanId = newSpanId();
}

/** The bound TraceIdRatioBasedSampler compares a trace id against, for `ratio` in [0, 1]. */
export function ratioBound(ratio: number): number {
  if (!(ratio > 0)) return 0;
  return ratio >= 1 ? 0x100000000 : Math.floor(ratio * 0xffffffff);
}

/** TraceIdRatioBasedSampler's rule: the trace id's four 32-bit words XORed, below the bound. */
export function traceIdBelow(traceId: string, bound: number): boolean {
  let accumulated = 0;
  for (let i = 0; i < 32; i += 8) {
    let word = 0;
    for (let j = 0; j < 8; j++) word = (word << 4) | hexValue(traceId.charCodeAt(i + j));
    accumulated = (accumulated ^ word) >>> 0;
  }
  return accumulated < bound;
}
