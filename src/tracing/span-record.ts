import type { Attributes } from '@opentelemetry/api';

/** One sampled request's span as it crosses to the exporter thread: plain data (structured clone). */
export interface SpanRecord {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly traceState: string | undefined;
  /** The caller's span id (a remote parent); undefined for a trace the gateway began. */
  readonly parentSpanId: string | undefined;
  /** Epoch milliseconds (fractional): threads do not share performance.timeOrigin. */
  readonly startMs: number;
  readonly endMs: number;
  readonly error: boolean;
  readonly attributes: Attributes;
}

/** Gateway thread -> exporter thread. */
export type ToExporter = { readonly op: 'spans'; readonly spans: readonly SpanRecord[] } | { readonly op: 'shutdown' };

/** Exporter thread -> gateway thread: spans a collector did not take (logged there), and the end of a shutdown. */
export type FromExporter = { readonly op: 'warn'; readonly endpoint: string; readonly spans_lost: number; readonly error: string } | { readonly op: 'closed' };
