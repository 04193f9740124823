import { Worker } from 'node:worker_threads';
import type { FastifyRequest } from 'fastify';
import type { Attributes } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';
import type { Logger } from '../observability/logging.js';
import type { RequestState } from '../request-state.js';
import type { TracingConfig } from './config.js';
import type { FromExporter, SpanRecord, ToExporter } from './span-record.js';

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
// Spans cross to the exporter thread in batches: one message per BATCH spans, or per BATCH_MS.
const BATCH = 64;
const BATCH_MS = 200;

/**
 * One span per sampled request, exported over OTLP/HTTP (JSON) by
 * OpenTelemetry's own BatchSpanProcessor and OTLP trace exporter, which run
 * on a thread of their own (export-worker.ts, which says why). Sampling was
 * decided when the request arrived (context.ts), and `record` is called for
 * sampled requests only: an unsampled request costs nothing here. This
 * thread only turns the request into a plain record and queues it.
 * One instance per config generation (gateway/app.ts), shut down (flushed)
 * when its app closes: on a reload once its last request is done, and on
 * gateway close.
 */
export class SpanExport {
  readonly #worker: Worker;
  #pending: SpanRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #closed: Promise<void> | undefined;

  constructor(config: TracingConfig, logger: Logger) {
    this.#worker = new Worker(new URL('./export-worker.js', import.meta.url), { workerData: { config } });
    // Exporting never keeps the process alive: shutdown() flushes it on close.
    this.#worker.unref();
    this.#worker.on('message', (message: FromExporter) => {
      if (message.op === 'warn') logger.warn({ endpoint: message.endpoint, spans_lost: message.spans_lost, err: message.error }, 'trace export failed');
    });
    this.#worker.on('error', (err) => logger.error({ err }, 'trace export thread failed; spans are no longer exported'));
  }

  /** Records the request's span, from its arrival to now. Call only for a sampled request. */
  record(request: FastifyRequest, status: number, elapsedMs: number, labels: SpanLabels): void {
    const state = request.gateway;
    const endMs = performance.timeOrigin + performance.now();
    const route = state.route;
    this.#pending.push({
      // The semantic conventions' server span name: `{method} {http.route}`, the method alone for a request no route took.
      name: route === undefined ? request.method : `${request.method} ${route.path}`,
      traceId: state.traceId,
      spanId: state.spanId,
      traceFlags: state.traceFlags,
      traceState: state.traceState,
      parentSpanId: state.parentSpanId,
      startMs: endMs - elapsedMs,
      endMs,
      error: status >= 500,
      attributes: attributesOf(request, state, status, labels),
    });
    if (this.#pending.length >= BATCH) this.#send();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#send(), BATCH_MS);
      this.#timer.unref();
    }
  }

  #send(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0 || this.#closed !== undefined) return;
    const message: ToExporter = { op: 'spans', spans: this.#pending };
    this.#pending = [];
    this.#worker.postMessage(message);
  }

  /** Exports what is queued and stops; waits FLUSH_LIMIT_MS at most (a collector that is down must not hold a shutdown). */
  shutdown(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed;
    this.#send();
    this.#closed = new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        void this.#worker.terminate().finally(resolve);
      };
      const timer = setTimeout(done, FLUSH_LIMIT_MS);
      this.#worker.on('message', (message: FromExporter) => {
        if (message.op === 'closed') done();
      });
      this.#worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      const shutdown: ToExporter = { op: 'shutdown' };
      this.#worker.postMessage(shutdown);
    });
    return this.#closed;
  }
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
