import type { ConfigProblem } from '../config/problems.js';
import { checkPlainUrl } from '../config/url-check.js';

/**
 * The `tracing:` block: its schema fragment (config/schema.ts closes the top
 * level over it), its raw shape, the URL rules a schema cannot say, and its
 * resolved form. Absent block: no span is exported; W3C trace context is
 * still continued and forwarded (tracing/context.ts), which needs no config.
 */

export const tracingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['otlp_endpoint'],
  properties: {
    // The collector's OTLP/HTTP address: a base URL (`/v1/traces` is added) or the full traces URL.
    otlp_endpoint: { type: 'string', pattern: '^https?://', maxLength: 2048 },
    // Share of new traces recorded; a caller's sampled flag is followed whatever the ratio.
    sample_ratio: { type: 'number', minimum: 0, maximum: 1 },
    service_name: { type: 'string', minLength: 1, maxLength: 256 },
  },
} as const;

export interface RawTracing {
  otlp_endpoint: string;
  sample_ratio?: number;
  service_name?: string;
}

export interface TracingConfig {
  /** Where spans are POSTed (OTLP/HTTP, JSON): otlp_endpoint, with `/v1/traces` added to a bare base URL. */
  readonly tracesUrl: string;
  /** Share of new traces sampled, 0..1 (TraceIdRatioBased on the trace id). */
  readonly sampleRatio: number;
  /** The resource's service.name. */
  readonly serviceName: string;
}

export const TRACING_DEFAULTS = {
  // One request in ten: enough to see every route's shape at a few hundred requests a second, cheap at thousands.
  sample_ratio: 0.1,
  service_name: 'throttlegate',
} as const;

/** otlp_endpoint must be an absolute http(s) URL without credentials, query or fragment. */
export function checkTracing(raw: unknown): ConfigProblem[] {
  const value = raw !== null && typeof raw === 'object' ? (raw as { otlp_endpoint?: unknown }).otlp_endpoint : undefined;
  if (typeof value !== 'string' || !/^https?:\/\//.test(value)) return [];
  // Credentials would end up in logs of export failures; collectors take them as headers (OTEL_EXPORTER_OTLP_HEADERS).
  return checkPlainUrl(value, 'tracing.otlp_endpoint', ' (set OTEL_EXPORTER_OTLP_HEADERS instead)');
}

export function buildTracing(raw: RawTracing | undefined): TracingConfig | null {
  if (raw === undefined) return null;
  const url = new URL(raw.otlp_endpoint);
  // The OTLP convention (OTEL_EXPORTER_OTLP_ENDPOINT): a base URL gets the signal's path; a URL with a path is used as written.
  if (url.pathname === '/') url.pathname = '/v1/traces';
  return {
    tracesUrl: url.href,
    sampleRatio: raw.sample_ratio ?? TRACING_DEFAULTS.sample_ratio,
    serviceName: raw.service_name ?? TRACING_DEFAULTS.service_name,
  };
}
