import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { ConfigError, parseConfig } from '../../src/index.js';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml, send } from '../helpers/http.js';
import { startEchoOrigin } from '../helpers/ws-origin.js';
import { waitFor } from '../helpers/wait.js';

// W3C trace context is continued through the gateway on every request, and
// with `tracing:` each sampled request's span reaches a real OTLP/HTTP
// receiver: this file's, which decodes what OpenTelemetry's exporter POSTs
// (OTLP/JSON) on 127.0.0.1. gateway.close() flushes, so spans are read after it.

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

type AttributeValue = string | number | boolean;

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  statusCode: number;
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
}
interface OtlpKeyValue {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string | number;
  endTimeUnixNano: string | number;
  status?: { code?: number };
  attributes?: OtlpKeyValue[];
}
interface OtlpRequest {
  resourceSpans: { resource?: { attributes?: OtlpKeyValue[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

function plain(list: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : (value.doubleValue ?? value.boolValue ?? ''));
  }
  return out;
}

/** An OTLP/HTTP receiver: POST /v1/traces with an OTLP/JSON body, answered 200 as a collector does. */
async function startReceiver() {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const contentTypes: string[] = [];
  const upstream = await startUpstream((req, res, body) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') return res.writeHead(404).end();
    const text = body.toString('utf8');
    bodies.push(text);
    contentTypes.push(req.headers['content-type'] ?? '');
    const request = JSON.parse(text) as OtlpRequest;
    for (const rs of request.resourceSpans) {
      const resource = plain(rs.resource?.attributes);
      for (const ss of rs.scopeSpans) {
        for (const s of ss.spans) {
          spans.push({
            traceId: s.traceId,
            spanId: s.spanId,
            parentSpanId: s.parentSpanId ?? '',
            traceState: s.traceState ?? '',
            name: s.name,
            kind: s.kind,
            startNs: BigInt(s.startTimeUnixNano),
            endNs: BigInt(s.endTimeUnixNano),
            statusCode: s.status?.code ?? 0,
            attributes: plain(s.attributes),
            resource,
          });
        }
      }
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  return { url: upstream.url, spans, bodies, contentTypes, close: () => upstream.close() };
}

function tracingYaml(endpoint: string, ratio: number, extra = ''): string {
  return `tracing:\n  otlp_endpoint: ${endpoint}\n  sample_ratio: ${ratio}\n  service_name: edge-gw\n${extra}`;
}

/** The traceparent an origin received, split. */
function received(value: unknown): { traceId: string; parentId: string; flags: string } {
  assert.equal(typeof value, 'string', 'the origin got no traceparent');
  const m = TRACEPARENT.exec(value as string);
  assert.ok(m, `malformed traceparent at the origin: ${String(value)}`);
  return { traceId: m[1] as string, parentId: m[2] as string, flags: m[3] as string };
}

test('a sampled traceparent is continued upstream, and its span reaches the collector with the ids the origin saw', async (t) => {
  const receiver = await startReceiver();
  const up = await startUpstream();
  const gw = await startGateway(
    `${tracingYaml(receiver.url, 0)}rate_limit:\n  requests_per_second: 1000\n  burst: 1000\n  key: [header:x-api-key, ip]\n` +
      `routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`,
  );
  t.after(() => Promise.all([gw.close(), up.close(), receiver.close()]));

  const started = BigInt(Date.now()) * 1_000_000n;
  const res = await send(gw.url, '/api/items/7?token=query-secret', {
    headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', 'x-api-key': 'key-secret-123', authorization: 'Bearer auth-secret' },
  });
  assert.equal(res.status, 200);

  const seen = up.seen.at(-1)!.headers;
  const sent = received(seen.traceparent);
  assert.equal(sent.traceId, TRACE, 'same trace');
  assert.notEqual(sent.parentId, PARENT, "the gateway's own span is the origin's parent");
  assert.equal(sent.flags, '01', 'the sampled flag is kept');
  assert.equal(seen.tracestate, 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE', 'tracestate passed on unchanged');

  const line = gw.accessLines().at(-1)!;
  assert.equal(line.trace_id, TRACE);
  assert.equal(line.span_id, sent.parentId);

  await gw.close();
  assert.equal(receiver.spans.length, 1, 'one span per request, flushed by close()');
  assert.match(receiver.contentTypes[0]!, /^application\/json/);
  const span = receiver.spans[0]!;
  assert.equal(span.traceId, TRACE);
  assert.equal(span.spanId, sent.parentId, "the span's id is the parent id the origin received");
  assert.equal(span.parentSpanId, PARENT, "the caller's span is the parent");
  assert.equal(span.traceState, 'rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
  assert.equal(span.name, 'GET /api');
  assert.equal(span.kind, 2, 'SPAN_KIND_SERVER');
  assert.equal(span.statusCode, 0, 'a 200 leaves the status unset');
  assert.ok(span.startNs >= started - 1_000_000n && span.endNs >= span.startNs && span.endNs - span.startNs < 5_000_000_000n, `${span.startNs}..${span.endNs}`);
  assert.equal(span.resource['service.name'], 'edge-gw');
  assert.deepEqual(
    { ...span.attributes },
    {
      'http.request.method': 'GET',
      'url.path': '/api/items/7',
      'http.response.status_code': 200,
      'http.route': '/api',
      'throttlegate.route': '/api',
      'throttlegate.client': line.client,
      'throttlegate.decision': 'allowed',
      'throttlegate.upstream': up.url,
      'throttlegate.retries': 0,
      'throttlegate.request_id': line.reqId,
    },
  );
  assert.match(String(line.client), /^key:/, 'the client is its label');
  for (const secret of ['query-secret', 'key-secret-123', 'auth-secret']) assert.ok(!receiver.bodies.join('').includes(secret), `${secret} was exported`);
});

test('a request without traceparent gets a new trace: at the origin, on the access line and in its span', async (t) => {
  const receiver = await startReceiver();
  const up = await startUpstream();
  const gw = await startGateway(`${tracingYaml(`${receiver.url}/v1/traces`, 1)}routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close(), receiver.close()]));

  assert.equal((await send(gw.url, '/api/a')).status, 200);
  assert.equal((await send(gw.url, '/api/b')).status, 200);
  const sent = up.seen.map((s) => received(s.headers.traceparent));
  assert.notEqual(sent[0]!.traceId, sent[1]!.traceId, 'each request its own trace');
  assert.deepEqual(sent.map((s) => s.flags), ['01', '01'], 'sample_ratio 1: sampled');
  assert.equal(up.seen[0]!.headers.tracestate, undefined);
  const lines = gw.accessLines();
  assert.deepEqual(lines.map((l) => [l.trace_id, l.span_id]), sent.map((s) => [s.traceId, s.parentId]));

  await gw.close();
  assert.deepEqual(
    receiver.spans.map((s) => [s.traceId, s.spanId, s.parentSpanId, s.attributes['url.path']]).sort(),
    [
      [sent[0]!.traceId, sent[0]!.parentId, '', '/api/a'],
      [sent[1]!.traceId, sent[1]!.parentId, '', '/api/b'],
    ].sort(),
    'root spans with the ids the origin saw',
  );
});

test('invalid traceparents are replaced by a new trace and never forwarded; their tracestate is dropped', async (t) => {
  const up = await startUpstream();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  const invalid = [
    `00-${TRACE.toUpperCase()}-${PARENT}-01`,
    `00-${'0'.repeat(32)}-${PARENT}-01`,
    `00-${TRACE}-${'0'.repeat(16)}-01`,
    `ff-${TRACE}-${PARENT}-01`,
    `00-${TRACE}-${PARENT}-01-extra`,
    `00-${TRACE}-${PARENT}`,
    'not a traceparent',
  ];
  for (const value of invalid) {
    assert.equal((await send(gw.url, '/api/x', { headers: { traceparent: value, tracestate: 'rojo=1' } })).status, 200);
    const seen = up.seen.at(-1)!.headers;
    const sent = received(seen.traceparent);
    assert.notEqual(sent.traceId, TRACE, value);
    assert.notEqual(sent.traceId, '0'.repeat(32), value);
    assert.equal(sent.flags, '00', `${value}: tracing off, a new trace goes out unsampled`);
    assert.equal(seen.tracestate, undefined, `${value}: tracestate without a valid traceparent`);
    assert.equal(gw.accessLines().at(-1)!.trace_id, sent.traceId);
  }
});

test('sample_ratio 0 exports nothing for unsampled and new traces, yet propagates them; a sampled caller is still followed', async (t) => {
  const receiver = await startReceiver();
  const up = await startUpstream();
  const gw = await startGateway(`${tracingYaml(receiver.url, 0)}routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close(), receiver.close()]));

  await send(gw.url, '/api/none');
  await send(gw.url, '/api/unsampled', { headers: { traceparent: `00-${TRACE}-${PARENT}-00` } });
  const [none, unsampled] = up.seen.map((s) => received(s.headers.traceparent));
  assert.equal(none!.flags, '00');
  assert.deepEqual([unsampled!.traceId, unsampled!.flags], [TRACE, '00']);
  assert.notEqual(unsampled!.parentId, PARENT);

  // The one request a caller sampled: the receiver is live and would have shown the others.
  await send(gw.url, '/api/sampled', { headers: { traceparent: `00-${'a'.repeat(32)}-${PARENT}-01` } });
  await gw.close();
  assert.deepEqual(receiver.spans.map((s) => [s.traceId, s.attributes['url.path']]), [['a'.repeat(32), '/api/sampled']]);
});

test('without tracing: the trace is continued upstream and nothing is exported', async (t) => {
  const receiver = await startReceiver();
  const up = await startUpstream();
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close(), receiver.close()]));

  await send(gw.url, '/api/x', { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1' } });
  const seen = up.seen.at(-1)!.headers;
  const sent = received(seen.traceparent);
  assert.deepEqual([sent.traceId, sent.flags, seen.tracestate], [TRACE, '01', 'rojo=1']);
  assert.notEqual(sent.parentId, PARENT);
  await gw.close();
  assert.equal(receiver.bodies.length, 0);
});

test('refusals and failures are traced: a 429 with its decision, a 502 as an error with its reason, a retry counted', async (t) => {
  const receiver = await startReceiver();
  const up = await startUpstream();
  // A port nothing listens on: connections are refused.
  const dead = await startUpstream();
  await dead.close();
  const gw = await startGateway(
    `${tracingYaml(receiver.url, 1)}routes:\n` +
      routesYaml([
        { path: '/limited', upstream: up.url, extra: 'rate_limit:\n  requests_per_second: 0.001\n  burst: 1\n  key: [ip]' },
        { path: '/down', upstream: dead.url },
      ]) +
      // Round robin starts on the dead target: the first request is refused there and retried on the live one.
      `  - path: /pool\n    upstream:\n      targets:\n        - { url: "${dead.url}" }\n        - { url: "${up.url}" }\n      retries: 1\n`,
  );
  t.after(() => Promise.all([gw.close(), up.close(), receiver.close()]));

  assert.equal((await send(gw.url, '/limited/x')).status, 200);
  assert.equal((await send(gw.url, '/limited/x')).status, 429);
  assert.equal((await send(gw.url, '/down/x')).status, 502);
  for (let i = 0; i < 2; i++) assert.equal((await send(gw.url, '/pool/x')).status, 200);
  await gw.close();

  const byPath = (path: string) => receiver.spans.filter((s) => s.attributes['url.path'] === path);
  const limited = byPath('/limited/x').find((s) => s.attributes['http.response.status_code'] === 429);
  assert.ok(limited, 'the 429 has a span');
  assert.equal(limited.attributes['throttlegate.decision'], 'limited');
  assert.equal(limited.statusCode, 0, 'a 4xx is no server error');
  const down = byPath('/down/x')[0];
  assert.ok(down, 'the 502 has a span');
  assert.equal(down.attributes['http.response.status_code'], 502);
  assert.equal(down.statusCode, 2, 'STATUS_CODE_ERROR');
  assert.equal(typeof down.attributes['throttlegate.upstream_error'], 'string');
  assert.equal(down.attributes['error.type'], down.attributes['throttlegate.upstream_error']);
  const retried = byPath('/pool/x').find((s) => s.attributes['throttlegate.retries'] === 1);
  assert.ok(retried, `a pool request retried on the live target: ${JSON.stringify(byPath('/pool/x').map((s) => s.attributes))}`);
  assert.equal(retried.attributes['throttlegate.upstream'], up.url);
});

test('a WebSocket handshake carries the continued traceparent to the upstream', async (t) => {
  const receiver = await startReceiver();
  const origin = await startEchoOrigin();
  const gw = await startGateway(`${tracingYaml(receiver.url, 0)}routes:\n${routesYaml([{ path: '/ws', upstream: origin.url }])}`);
  t.after(() => Promise.all([gw.close(), origin.close(), receiver.close()]));

  const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/ws/chat`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'rojo=1' } });
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const handshake = await waitFor('the handshake at the origin', () => origin.handshakes[0]);
  const sent = received(handshake.headers.traceparent);
  assert.deepEqual([sent.traceId, sent.flags, handshake.headers.tracestate], [TRACE, '01', 'rojo=1']);
  assert.notEqual(sent.parentId, PARENT);
  ws.close();
  await waitFor('the tunnel closed and logged', () => gw.accessLines().find((l) => l.status === 101));
  await gw.close();
  const span = receiver.spans.find((s) => s.spanId === sent.parentId);
  assert.ok(span, 'the handshake has its span, with the id the origin saw');
  assert.deepEqual([span.traceId, span.parentSpanId, span.attributes['http.response.status_code']], [TRACE, PARENT, 101]);
});

test('a reload that turns tracing off flushes the retired config\'s spans, and exports nothing after it', async (t) => {
  const receiver = await startReceiver();
  const up = await startUpstream();
  const routes = `routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`;
  const gw = await startGateway(`${tracingYaml(receiver.url, 1)}${routes}`);
  t.after(() => Promise.all([gw.close(), up.close(), receiver.close()]));

  await send(gw.url, '/api/before');
  await gw.gateway.reload(parseConfig(routes, 'test.yaml', {}));
  // The retired app closes once its last request is done, and its span export flushes then: before any gateway close.
  await waitFor('the span of the request before the reload', () => receiver.spans.length === 1);
  await send(gw.url, '/api/after');
  assert.equal(received(up.seen.at(-1)!.headers.traceparent).flags, '00', 'tracing off: new traces go out unsampled');
  await gw.close();
  assert.deepEqual(receiver.spans.map((s) => s.attributes['url.path']), ['/api/before']);
});

test('the tracing block: defaults, the OTLP base URL convention, and what is refused', () => {
  const route = 'routes:\n  - path: /api\n    upstream: http://127.0.0.1:1\n';
  const config = (tracing: string) => parseConfig(`${tracing}${route}`, 'tracing.yaml', {});
  assert.equal(config('').tracing, null, 'absent block: off');
  assert.deepEqual(config('tracing:\n  otlp_endpoint: http://collector:4318\n').tracing, {
    tracesUrl: 'http://collector:4318/v1/traces',
    sampleRatio: 0.1,
    serviceName: 'throttlegate',
  });
  assert.equal(config('tracing:\n  otlp_endpoint: https://otel.example/custom/traces\n').tracing?.tracesUrl, 'https://otel.example/custom/traces');
  const refused: [string, RegExp][] = [
    ['tracing: {}\n', /tracing.*otlp_endpoint/],
    ['tracing:\n  otlp_endpoint: ftp://collector:21\n', /tracing\.otlp_endpoint/],
    ['tracing:\n  otlp_endpoint: http://user:pass@collector:4318\n', /tracing\.otlp_endpoint: must not carry credentials/],
    ['tracing:\n  otlp_endpoint: http://collector:4318/v1/traces?token=x\n', /tracing\.otlp_endpoint: must not carry a query/],
    ['tracing:\n  otlp_endpoint: http://collector:99999\n', /tracing\.otlp_endpoint: .*not an absolute http\(s\) URL/],
    ['tracing:\n  otlp_endpoint: http://collector:4318\n  sample_ratio: 1.5\n', /tracing\.sample_ratio/],
    ['tracing:\n  otlp_endpoint: http://collector:4318\n  sample_rate: 0.5\n', /tracing.*sample_rate/],
  ];
  for (const [yaml, message] of refused) assert.throws(() => config(yaml), (err: unknown) => err instanceof ConfigError && message.test(err.message), yaml);
});
