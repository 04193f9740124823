import type { GatewayConfig, RouteConfig } from '../config/types.js';
import type { LimitStore, LimitStep } from '../limit/stores/store.js';
import type { Overrides } from '../limit/overrides.js';
import type { GatewayMetrics, TargetStates } from '../observability/metrics.js';
import type { AdaptiveAccess } from '../admin/adaptive.js';
import { liveEngine } from '../admin/adaptive.js';
import { resolveClientKey, type StoreKeys } from '../admin/client-key.js';
import { describeClientLimits } from '../admin/limits.js';
import { describeOverride } from '../admin/views.js';
import { checkOf, limitSetFor } from '../limit/sets.js';
import type { TrafficSeries } from './series.js';
import type { ClientTally, DashboardFeed, FeedLine } from './feed.js';
import { describeLimit } from '../limit/describe.js';

/** What the topics read: the live config, the store (dry runs), the overrides, the engine, the metrics. */
export interface TopicSources {
  readonly config: () => GatewayConfig;
  readonly store: LimitStore;
  readonly overrides: Overrides;
  readonly metrics: GatewayMetrics;
  readonly adaptive?: AdaptiveAccess;
  readonly storeKeys?: StoreKeys;
  readonly series: TrafficSeries;
  /** Each target's health and circuit state by route (the metrics' gauges; with workers, gathered from them). */
  readonly targetStates: () => Promise<TargetStates>;
  readonly feed: DashboardFeed;
  readonly startedAt: number;
  /** The adaptive engine's clock (its records are kept on it). */
  readonly clock: () => number;
}

const TOP = 25;
const iso = (ms: number): string => new Date(ms).toISOString();

export function overview(s: TopicSources) {
  const points = s.series.points;
  const sample = s.metrics.sample();
  const config = s.config();
  return {
    at: Date.now(),
    series: {
      t: points.map((p) => p.t),
      requests: points.map((p) => p.requests),
      allowed: points.map((p) => Math.max(0, p.requests - p.limited - p.blocked - p.errors)),
      limited: points.map((p) => p.limited),
      blocked: points.map((p) => p.blocked),
      errors: points.map((p) => p.errors),
      p50_ms: points.map((p) => round(p.p50)),
      p99_ms: points.map((p) => round(p.p99)),
    },
    totals: s.series.totals,
    since: iso(s.startedAt),
    config: {
      hash: sample.configHash,
      routes: config.routes.length,
      last_reload: sample.lastReload === null ? null : { result: sample.lastReload.result, at: iso(sample.lastReload.at), message: sample.lastReload.message ?? null },
    },
  };
}

const CIRCUIT = ['closed', 'half_open', 'open'] as const;

export async function routes(s: TopicSources) {
  const states = await s.targetStates();
  return {
    at: Date.now(),
    routes: s.config().routes.map((r) => {
      const { rps, refusalShare } = s.series.route(r.path);
      return {
        path: r.path,
        host: r.host,
        methods: r.methods,
        policy: r.policy === null ? null : r.policy.limits.map(describeLimit).join(' + '),
        require_api_key: r.requireApiKey,
        targets: r.upstream.targets.map((t) => {
          const state = states.get(r.path)?.get(t.url);
          return { url: t.url, healthy: (state?.healthy ?? 1) === 1, circuit: CIRCUIT[state?.circuit ?? 0] ?? 'closed' };
        }),
        rps: Math.round(rps * 10) / 10,
        refusal_share: Math.round(refusalShare * 1000) / 1000,
      };
    }),
  };
}

export type ClientSort = 'requests' | 'refusals' | 'risk';

export async function clients(s: TopicSources, sort: ClientSort, q: string) {
  const config = s.config();
  const engine = liveEngine(s.adaptive, config);
  const risk = (t: ClientTally) => (engine !== null && t.identity !== null ? engine.client(t.identity.key) : undefined);
  let tallies = s.feed.clients();
  let query: { q: string; resolved: string | null; error: string | null } | undefined;
  if (q !== '') {
    const resolved = resolveClientKey(q, config, s.storeKeys);
    if ('error' in resolved) {
      query = { q, resolved: null, error: resolved.error };
      tallies = [];
    } else {
      query = { q, resolved: resolved.label, error: null };
      const found = tallies.find((t) => t.client === resolved.label);
      tallies = [found ?? { client: resolved.label, requests: 0, refusals: 0, lastStatus: 0, lastSeen: 0, identity: resolved.identity, route: firstLimited(config) }];
    }
  }
  const score = (t: ClientTally) => risk(t)?.score ?? -1;
  const by = sort === 'risk' && engine !== null ? (a: ClientTally, b: ClientTally) => score(b) - score(a) : sort === 'refusals' ? (a: ClientTally, b: ClientTally) => b.refusals - a.refusals || b.requests - a.requests : (a: ClientTally, b: ClientTally) => b.requests - a.requests;
  const top = tallies.sort(by).slice(0, TOP);
  const rows = [];
  for (const t of top) {
    const view = risk(t);
    const override = s.overrides.get(t.client);
    rows.push({
      client: t.client,
      requests: t.requests,
      refusals: t.refusals,
      last_status: t.lastStatus,
      last_seen: t.lastSeen === 0 ? null : iso(t.lastSeen),
      risk: engine === null ? null : (view?.score ?? null),
      band: engine === null ? null : (view?.band ?? null),
      limits: await limitsOf(s, t, override),
      override: describeOverride(override?.override),
    });
  }
  return { at: Date.now(), window_s: s.feed.windowSeconds, adaptive: engine !== null, query: query ?? { q: '', resolved: null, error: null }, clients: rows };
}

/** The client's limits on the route it was last seen on, as a dry run (nothing consumed). */
async function limitsOf(s: TopicSources, t: ClientTally, override: ReturnType<Overrides['get']>) {
  const route = t.route;
  if (t.identity === null || route === null || route.limitSets === null) return [];
  const set = limitSetFor(route.limitSets, t.identity, override);
  const outcome = await s.store.check(checkOf(set, t.identity, route), { dryRun: true });
  return set.limits.map((l, i) => ({
    id: l.id,
    limit: l.capacity,
    remaining: (outcome.steps[i] as LimitStep | undefined)?.remaining ?? 0,
    ...(l.algorithm === 'token_bucket' || l.algorithm === 'gcra' ? { requests_per_second: l.rate } : {}),
  }));
}

function firstLimited(config: GatewayConfig): RouteConfig | null {
  return config.routes.find((r) => r.limitSets !== null) ?? null;
}

export async function client(s: TopicSources, key: string) {
  const config = s.config();
  const resolved = resolveClientKey(key, config, s.storeKeys);
  if ('error' in resolved) return { at: Date.now(), client: key, key_id: null, plan: null, error: resolved.error, limits: [], override: null, risk: null, recent: [] };
  const described = await describeClientLimits(s, config, resolved);
  const engine = liveEngine(s.adaptive, config);
  const stateKey = resolved.stateKeys?.[0] ?? s.overrides.recent.keyOf(resolved.label) ?? resolved.label;
  const view = engine?.client(stateKey);
  return {
    at: Date.now(),
    client: resolved.label,
    key_id: described.key_id,
    plan: described.plan,
    error: null,
    limits: described.policies,
    override: described.override,
    risk: view === undefined ? null : { score: view.score, band: view.band, top: view.top.map((c) => ({ feature: c.feature, value: c.value, contribution: c.contribution })) },
    recent: s.feed.watch(resolved.label).slice(0, 50).map(lineView),
  };
}

export function lineView(l: FeedLine) {
  return { time: iso(l.time), method: l.method, path: l.path, route: l.route, client: l.client, status: l.status, decision: l.decision, duration_ms: l.duration_ms, band: l.band, user_agent: l.user_agent };
}

/** A log filter: route path, client label, status (a code, or 2xx/4xx/5xx). */
export interface LogFilter {
  readonly route: string;
  readonly client: string;
  readonly status: string;
}

export function logMatches(f: LogFilter, l: FeedLine): boolean {
  if (f.route !== '' && l.route !== f.route) return false;
  if (f.client !== '' && l.client !== f.client) return false;
  if (f.status === '') return true;
  if (/^[1-5]xx$/.test(f.status)) return Math.floor(l.status / 100) === Number(f.status[0]);
  return String(l.status) === f.status;
}

const round = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 100) / 100);
