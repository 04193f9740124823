import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';
import { SpanKind, SpanStatusCode, createTraceState, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import { ExportResultCode, hrTimeDuration, millisToHrTime, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from './config.js';
import type { FromExporter, SpanRecord, ToExporter } from './span-record.js';

/**
 * One sampled request as the finished span OpenTelemetry's batch processor
 * and OTLP exporter take (their `ReadableSpan`), built directly: the request
 * already carries its ids, times and outcome, so the SDK's tracer and span
 * objects would only copy them. At low ratios that path also ran too rarely
 * for V8 to optimise it (about 225 µs a span at 0.01, 21 µs at 1); this is
 * one small object. Batching, queue limits and export stay the SDK's.
 */
class RequestSpan implements ReadableSpan {
  readonly kind = SpanKind.SERVER;
  readonly ended = true;
  readonly links = [];
  readonly events = [];
  readonly droppedAttributesCount = 0;
  readonly droppedEventsCount = 0;
  readonly droppedLinksCount = 0;
  readonly duration: HrTime;
  readonly #context: SpanContext;

  constructor(
    readonly name: string,
    context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    readonly startTime: HrTime,
    readonly endTime: HrTime,
    readonly status: { code: SpanStatusCode },
    readonly attributes: Attributes,
    readonly resource: Resource,
    readonly instrumentationScope: { readonly name: string },
  ) {
    this.#context = context;
    this.duration = hrTimeDuration(startTime, endTime);
  }

  spanContext(): SpanContext {
    return this.#context;
  }
}

const SCOPE = Object.freeze({ name: 'throttlegate' });
const UNSET = Object.freeze({ code: SpanStatusCode.UNSET });
const ERROR = Object.freeze({ code: SpanStatusCode.ERROR });

// One warning per minute at most for spans a collector did not take.
const WARN_EVERY_MS = 60_000;

/** The OTLP exporter, with export failures reported to the gateway's log (at most once a minute, with the count of spans lost meanwhile). */
class ReportingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #warn: (message: FromExporter) => void;
  readonly #url: string;
  #lost = 0;
  #warnedAt = -Infinity;

  constructor(inner: SpanExporter, warn: (message: FromExporter) => void, url: string) {
    this.#inner = inner;
    this.#warn = warn;
    this.#url = url;
  }

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.#inner.export(spans, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.#failed(spans.length, result.error);
      done(result);
    });
  }

  #failed(count: number, error: Error | undefined): void {
    this.#lost += count;
    const now = performance.now();
    if (now - this.#warnedAt < WARN_EVERY_MS) return;
    this.#warnedAt = now;
    this.#warn({ op: 'warn', endpoint: this.#url, spans_lost: this.#lost, error: error?.message ?? 'unknown error' });
    this.#lost = 0;
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * The span exporter's thread (spans.ts starts one per config generation).
 * OpenTelemetry's BatchSpanProcessor and OTLP/HTTP exporter run here, not on
 * the gateway's thread: the exporter posts with Node's http client, and on
 * the request thread those posts alone made Node's http, stream and timer
 * functions see client-side objects next to the server's, turning their
 * property lookups megamorphic: about 18,000 more instructions on every
 * request (+8 %, callgrind) for a few exports a second. Here they share
 * nothing with the request path. Spans arrive as plain records, in batches.
 */
const config = (workerData as { config: TracingConfig }).config;
const port = parentPort;
if (port === null) throw new Error('export-worker.js runs as a worker thread (tracing/spans.ts starts it)');
const post = (message: FromExporter) => port.postMessage(message);

// Our own agent, so shutdown can close its kept-alive sockets.
const agent = config.tracesUrl.startsWith('https:') ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
const exporter = new ReportingExporter(new OTLPTraceExporter({ url: config.tracesUrl, timeoutMillis: 10_000, httpAgentOptions: () => agent }), post, config.tracesUrl);
const resource = defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }));
const processor = new BatchSpanProcessor(exporter, { exportTimeoutMillis: 15_000 });

port.on('message', (message: ToExporter) => {
  if (message.op === 'spans') {
    for (const record of message.spans) processor.onEnd(spanOf(record));
    return;
  }
  processor
    .shutdown()
    .catch(() => {})
    .finally(() => {
      agent.destroy();
      post({ op: 'closed' });
    });
});

function spanOf(r: SpanRecord): RequestSpan {
  const context: SpanContext = { traceId: r.traceId, spanId: r.spanId, traceFlags: r.traceFlags, traceState: r.traceState === undefined ? undefined : createTraceState(r.traceState) };
  const parent = r.parentSpanId === undefined ? undefined : { traceId: r.traceId, spanId: r.parentSpanId, traceFlags: r.traceFlags, isRemote: true };
  return new RequestSpan(r.name, context, parent, millisToHrTime(r.startMs), millisToHrTime(r.endMs), r.error ? ERROR : UNSET, r.attributes, resource, SCOPE);
}
