import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import pino from 'pino';
import type { Logger } from './logging.js';
import type { RequestState } from '../request-state.js';
import { NO_ROUTE, type GatewayMetrics } from './metrics.js';
import { SAMPLED } from '../tracing/traceparent.js';
// Type only: OpenTelemetry's packages are loaded when a config turns tracing on (gateway/app.ts).
import type { SpanExport } from '../tracing/spans.js';
import type { DashboardFeed } from '../dashboard/feed.js';

/** Status logged for a client that went away before its response was complete (nginx's convention). */
export const CLIENT_CLOSED = 499;

interface AccessFields {
  reqId: string;
  /** The request's W3C trace id and the gateway's span id (tracing/context.ts); undefined before the hooks ran. */
  trace_id: string | undefined;
  span_id: string | undefined;
  method: string;
  path: string;
  route: string;
  client: string;
  decision: string;
  /** The api_keys entry and its plan, when the client presented a configured key. */
  key_id: string | undefined;
  plan: string | undefined;
  delayed_ms: number | undefined;
  status: number;
  duration_ms: number;
  upstream: string | undefined;
  /** Adaptive protection: the client's score and band when assessed, the reason code of a band that acts, what it did. */
  risk: number | undefined;
  band: string | undefined;
  risk_reason: string | undefined;
  risk_action: string | undefined;
}

const kLogged = Symbol('throttlegate.logged');
type Tracked = FastifyRequest & { [kLogged]?: true };
const kInFlight = Symbol('throttlegate.inFlight');
type TrackedSocket = Socket & { [kInFlight]?: Set<FastifyReply> };

/**
 * One metric observation and one log line per request. The line names the
 * route, never a raw key: `client` is `ip:<addr>` or `key:<sha256 prefix>`,
 * and the path is logged without its query string, which often carries tokens.
 *
 * Fastify runs onResponse only for responses that finished; `track` covers
 * clients that hang up first, so they get their line too (status 499). It
 * listens once per connection, not once per request: a keep-alive socket
 * carries thousands of requests, and a listener per request is measurable.
 *
 * With `spans` (tracing: on), a sampled request's span is recorded here too,
 * from what the line says; an unsampled one costs a flag test.
 */
export function createAccessLog(logger: Logger, metrics: GatewayMetrics, spans: SpanExport | null = null, feed: DashboardFeed | null = null) {
  function record(request: FastifyRequest, reply: FastifyReply, status: number): void {
    if ((request as Tracked)[kLogged]) return;
    (request as Tracked)[kLogged] = true;
    const state = request.gateway;
    const route = state?.route;
    const routeLabel = route ? route.path : NO_ROUTE;
    const ms = reply.elapsedTime;
    metrics.observeRequest(routeLabel, request.method, status, ms / 1000);
    const client = clientLabel(request, state);
    const decision = decisionLabel(state, route !== undefined && route.policy === null);
    const time = Date.now();
    // Only while a dashboard watches: otherwise one property test. A line object only for the lines it keeps.
    if (feed !== null && feed.active && feed.count(time, client, status, decision, state?.client, route)) {
      feed.keep({
        time,
        method: request.method,
        path: state?.path ?? '',
        route: routeLabel,
        client,
        status,
        decision,
        duration_ms: Math.round(ms * 1000) / 1000,
        band: state?.risk?.band ?? null,
        user_agent: userAgentOf(request),
      });
    }
    if (spans !== null && state && (state.traceFlags & SAMPLED) !== 0) {
      spans.record(request, status, ms, { route: routeLabel, client, decision, upstream: upstreamOf(state) });
    }
    const failure = state?.upstreamError;
    const internal = state?.internalError;
    const level = internal ? 'error' : failure || status >= 500 ? 'warn' : 'info';
    if (!logger.isLevelEnabled(level)) return;
    const fields: AccessFields = {
      reqId: request.id,
      trace_id: state?.traceId || undefined,
      span_id: state?.spanId || undefined,
      method: request.method,
      path: state?.path ?? '',
      route: routeLabel,
      client,
      decision,
      key_id: state?.client?.keyId ?? undefined,
      plan: state?.client?.keyId ? (state.client.plan ?? undefined) : undefined,
      delayed_ms: state?.delayedMs === undefined ? undefined : Math.round(state.delayedMs),
      status,
      duration_ms: Math.round(ms * 1000) / 1000,
      upstream: upstreamOf(state),
      risk: state?.risk?.score,
      band: state?.risk?.band,
      risk_reason: state?.risk?.reason,
      risk_action: state?.riskAction,
    };
    if (level === 'info') return writeLine(fields, time);
    logger[level]({ ...fields, upstream_error: failure?.reason, err: internal }, 'request');
  }

  // The ordinary line (info, no error) is rendered here rather than by pino:
  // same JSON, same stream, a third of the cost. Lines with an error go through pino.
  const stream = (logger as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym] as { write(line: string): void };
  const prefix = `{"level":${logger.levels.values.info},"time":`;
  const bindings = JSON.stringify(logger.bindings()).slice(1, -1);
  const bound = bindings === '' ? '' : `,${bindings}`;
  // `"route":...,"upstream":...` depends on the route and target alone (both from config): rendered once per pair.
  const routeFragments = new Map<string, Map<string | undefined, string>>();
  function routeFragment(route: string, upstream: string | undefined): string {
    let byTarget = routeFragments.get(route);
    if (byTarget === undefined) routeFragments.set(route, (byTarget = new Map()));
    let fragment = byTarget.get(upstream);
    if (fragment === undefined) {
      fragment = `,"route":${JSON.stringify(route)}${upstream === undefined ? '' : `,"upstream":${JSON.stringify(upstream)}`}`;
      byTarget.set(upstream, fragment);
    }
    return fragment;
  }
  // reqId (a checked token or a UUID, server.ts), trace ids (hex) and method (Node's parser admits only known
  // methods) need no escaping; path and client carry client input and are always escaped.
  function writeLine(f: AccessFields, time: number): void {
    stream.write(
      `${prefix}${time}${bound},"reqId":"${f.reqId}"${f.trace_id === undefined ? '' : `,"trace_id":"${f.trace_id}","span_id":"${f.span_id}"`}` +
        `,"method":"${f.method}","path":${JSON.stringify(f.path)}` +
        `${routeFragment(f.route, f.upstream)},"client":${JSON.stringify(f.client)}${f.key_id === undefined ? '' : identityFragment(f.key_id, f.plan)}` +
        `,"decision":"${f.decision}"${f.delayed_ms === undefined ? '' : `,"delayed_ms":${f.delayed_ms}`}${f.risk === undefined ? '' : riskFragment(f)},"status":${f.status}` +
        `,"duration_ms":${f.duration_ms},"msg":"request"}\n`,
    );
  }

  // Band names, reason codes and actions are the gateway's own tokens: no escaping needed.
  function riskFragment(f: AccessFields): string {
    return `,"risk":${f.risk},"band":"${f.band}"${f.risk_reason === undefined ? '' : `,"risk_reason":"${f.risk_reason}"`}${f.risk_action === undefined ? '' : `,"risk_action":"${f.risk_action}"`}`;
  }

  // Key ids and plan names come from config (ids match KEY_ID in schema.ts), so JSON.stringify once per pair is enough.
  const identityFragments = new Map<string, string>();
  function identityFragment(keyId: string, plan: string | undefined): string {
    const k = `${keyId}\u0000${plan ?? ''}`;
    let fragment = identityFragments.get(k);
    if (fragment === undefined) {
      fragment = `,"key_id":${JSON.stringify(keyId)}${plan === undefined ? '' : `,"plan":${JSON.stringify(plan)}`}`;
      if (identityFragments.size >= 10_000) identityFragments.clear();
      identityFragments.set(k, fragment);
    }
    return fragment;
  }

  function clientLabel(request: FastifyRequest, state: RequestState | undefined): string {
    return state?.client?.label ?? `ip:${state?.clientIp || request.raw.socket.remoteAddress}`;
  }

  // The target that served (or was tried); refused before a choice: a single-target route's URL, none for a pool.
  function upstreamOf(state: RequestState | undefined): string | undefined {
    const route = state?.route;
    return state?.target ?? (route?.upstream.targets.length === 1 ? route.upstreamOrigin : undefined);
  }

  function decisionLabel(state: RequestState | undefined, unlimitedRoute: boolean): string {
    if (state?.gate !== undefined) return state.gate;
    const d = state?.decision;
    if (d === undefined) return unlimitedRoute ? 'unlimited' : 'none';
    if (d.reason === 'store_unavailable') return d.allowed ? 'allowed_store_unavailable' : 'refused_store_unavailable';
    if (!d.allowed) return 'limited';
    if (d.shadowLimited) return 'shadow_limited';
    return state?.delayedMs === undefined ? 'allowed' : 'delayed';
  }

  return {
    onResponse(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
      (request.raw.socket as TrackedSocket | null)?.[kInFlight]?.delete(reply);
      record(request, reply, reply.statusCode);
      done();
    },
    /** Logs the request as 499 should its connection close before the response is complete. */
    track(request: FastifyRequest, reply: FastifyReply): void {
      const socket = request.raw.socket as TrackedSocket | null;
      if (socket === null) return;
      let inFlight = socket[kInFlight];
      if (inFlight === undefined) {
        const open = new Set<FastifyReply>();
        socket[kInFlight] = inFlight = open;
        socket.once('close', () => {
          // A tunnelled WebSocket (proxy/ws-tunnel.ts) was sent the upstream's 101 past the response object, which
          // says so in its statusCode; its line is written as the socket closes. A client that left before that is a 499.
          for (const r of open) if (!r.raw.writableFinished) record(r.request, r, r.request.gateway?.upgrade && r.raw.statusCode === 101 ? 101 : CLIENT_CLOSED);
          open.clear();
        });
      }
      inFlight.add(reply);
    },
  };
}

/** The User-Agent the dashboard shows, cut short (a header may be kilobytes long). */
function userAgentOf(request: FastifyRequest): string | null {
  const ua = request.headers['user-agent'];
  return typeof ua === 'string' ? ua.slice(0, 200) : null;
}
