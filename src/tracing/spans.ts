import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { FastifyRequest } from 'fastify';
import { SpanKind, SpanStatusCode, createTraceState, type Attributes, type HrTime, type SpanContext } from '@opentelemetry/api';
import { ExportResultCode, hrTime, hrTimeDuration, type ExportResult } from '@opentelemetry/core';
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { Logger } from '../observability/logging.js';
import type { RequestState } from '../request-state.js';
import type { TracingConfig } from './config.js';

/** What the access log computed for the request's line, handed to its span. */
export interface SpanLabels {
  /** The route's path, or the metrics' `none`. */
  readonly route: string;
  /** The client's log label (`ip:...`, `key:<sha256 prefix>`, `id:...`): never a raw key. */
  readonly client: string;
  readonly decision: string;
  /** The target that served or was tried, as configured. */
  readonly upstream: string | undefined;
}

// A gateway close waits this long at most for the last spans to reach the collector.
const FLUSH_LIMIT_MS = 5_000;
// One warning per minute at most for spans a collector did not take.
const WARN_EVERY_MS = 60_000;

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

/**
 * One span per sampled request, exported over OTLP/HTTP (JSON) by
 * OpenTelemetry's own BatchSpanProcessor and OTLP trace exporter. Sampling
 * was decided when the request arrived (context.ts), and `record` is called
 * for sampled requests only: an unsampled request costs no SDK work.
 * One instance per config generation (gateway/app.ts), shut down (flushed)
 * when its app closes: on a reload once its last request is done, and on
 * gateway close.
 */
export class SpanExport {
  readonly #processor: BatchSpanProcessor;
  readonly #resource: Resource;
  readonly #agent: HttpAgent;
  #closed: Promise<void> | undefined;

  constructor(config: TracingConfig, logger: Logger) {
    // Our own agent, so shutdown can close its kept-alive sockets.
    this.#agent = config.tracesUrl.startsWith('https:') ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    const exporter = new ReportingExporter(
      new OTLPTraceExporter({ url: config.tracesUrl, timeoutMillis: 10_000, httpAgentOptions: () => this.#agent }),
      logger,
      config.tracesUrl,
    );
    this.#resource = defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }));
    this.#processor = new BatchSpanProcessor(exporter, { exportTimeoutMillis: 15_000 });
  }

  /** Records the request's span, from its arrival to now. Call only for a sampled request. */
  record(request: FastifyRequest, status: number, elapsedMs: number, labels: SpanLabels): void {
    const state = request.gateway;
    const end = performance.now();
    const route = state.route;
    const context: SpanContext = {
      traceId: state.traceId,
      spanId: state.spanId,
      traceFlags: state.traceFlags,
      traceState: state.traceState === undefined ? undefined : createTraceState(state.traceState),
    };
    this.#processor.onEnd(
      new RequestSpan(
        // The semantic conventions' server span name: `{method} {http.route}`, the method alone for a request no route took.
        route === undefined ? request.method : `${request.method} ${route.path}`,
        context,
        parentOf(state),
        hrTime(end - elapsedMs),
        hrTime(end),
        status >= 500 ? ERROR : UNSET,
        attributesOf(request, state, status, labels),
        this.#resource,
        SCOPE,
      ),
    );
  }

  /** Exports what is queued and stops; waits FLUSH_LIMIT_MS at most (a collector that is down must not hold a shutdown). */
  shutdown(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, FLUSH_LIMIT_MS);
      timer.unref();
      this.#processor
        .shutdown()
        .catch(() => {})
        .finally(() => {
          clearTimeout(timer);
          this.#agent.destroy();
          resolve();
        });
    });
    return this.#closed;
  }
}

/** The caller's span as a remote parent; undefined for a trace the gateway began. */
function parentOf(state: RequestState): SpanContext | undefined {
  if (state.parentSpanId === undefined) return undefined;
  return { traceId: state.traceId, spanId: state.parentSpanId, traceFlags: state.traceFlags, isRemote: true };
}

/**
 * The span's attributes: what the access line says, under semantic
 * convention names where one exists. Never a header, a key or a query
 * string: the path is the canonical one without its query, the client is its label.
 */
function attributesOf(request: FastifyRequest, state: RequestState, status: number, labels: SpanLabels): Attributes {
  const attributes: Attributes = {
    [ATTR_HTTP_REQUEST_METHOD]: request.method,
    [ATTR_URL_PATH]: state.path,
    [ATTR_HTTP_RESPONSE_STATUS_CODE]: status,
    'throttlegate.route': labels.route,
    'throttlegate.client': labels.client,
    'throttlegate.decision': labels.decision,
    'throttlegate.retries': state.retries,
    'throttlegate.request_id': request.id,
  };
  if (state.route !== undefined) attributes[ATTR_HTTP_ROUTE] = state.route.path;
  if (labels.upstream !== undefined) attributes['throttlegate.upstream'] = labels.upstream;
  const failure = state.upstreamError?.reason;
  if (failure !== undefined) attributes['throttlegate.upstream_error'] = failure;
  if (status >= 500) attributes[ATTR_ERROR_TYPE] = failure ?? String(status);
  return attributes;
}

/** The OTLP exporter, with export failures logged (at most once a minute, with the count of spans lost meanwhile). */
class ReportingExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #logger: Logger;
  readonly #url: string;
  #lost = 0;
  #warnedAt = -Infinity;

  constructor(inner: SpanExporter, logger: Logger, url: string) {
    this.#inner = inner;
    this.#logger = logger;
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
    this.#logger.warn({ endpoint: this.#url, spans_lost: this.#lost, err: error }, 'trace export failed');
    this.#lost = 0;
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}
