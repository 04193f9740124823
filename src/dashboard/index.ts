import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { GatewayConfig } from '../config/types.js';
import type { LimitStore } from '../limit/stores/store.js';
import type { Overrides } from '../limit/overrides.js';
import type { GatewayMetrics, RequestSample, TargetStates } from '../observability/metrics.js';
import type { Logger } from '../observability/logging.js';
import type { AdaptiveAccess } from '../admin/adaptive.js';
import type { StoreKeys } from '../admin/client-key.js';
import { markOpen, tokenDigest, type AuthContext } from '../admin/auth.js';
import { adminError } from '../admin/errors.js';
import { normaliseIp } from '../limit/keys.js';
import { loadAssets, type Assets } from './assets.js';
import { clearedSessionCookie, cookieValue, SESSION_COOKIE, sessionCookie } from './cookies.js';
import type { DashboardFeed } from './feed.js';
import { StreamHub, sse, type Topic } from './hub.js';
import { appPage, loginPage, notAvailablePage, PAGE_HEADERS } from './pages.js';
import { TrafficSeries } from './series.js';
import { csrfMatches, DashboardSessions, SESSION_TTL_MS, type DashboardSession } from './session.js';
import * as topics from './topics.js';

export interface DashboardDeps {
  readonly config: () => GatewayConfig;
  /** The admin API's live authentication context (tokens follow reloads; one throttle for the app's life). */
  readonly auth: () => AuthContext;
  readonly store: LimitStore;
  readonly overrides: Overrides;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly adaptive?: AdaptiveAccess;
  readonly storeKeys?: StoreKeys;
  /** The request path's tap; undefined: this process serves no requests (the primary of workers). */
  readonly feed?: DashboardFeed;
  readonly adaptiveClock: () => number;
  /**
   * With workers (the primary): the request counters summed over them, in
   * place of this process's; what the tick runs first (gathering their
   * feeds into `feed`); told when the first viewer comes and the last goes.
   */
  readonly cluster?: {
    readonly sample: () => Promise<RequestSample>;
    /** The workers' target states (each worker runs its own pools and health checks). */
    readonly targetStates: () => Promise<TargetStates>;
    readonly beforeTick: () => Promise<void>;
    readonly onActive: (active: boolean) => void;
  };
  /** Where the built bundle is (tests); found beside the module by default. */
  readonly assets?: Assets | null;
}

/** What the admin app asks of the dashboard: whether a request carries a session (the admin API accepts one instead of a token). */
export interface Dashboard {
  /** 'ok': a live session (adminId set; an unsafe method also had its CSRF token); 'answered': refused (403 sent); 'none': no session. */
  authorize(request: FastifyRequest, reply: FastifyReply): 'ok' | 'answered' | 'none';
  close(): void;
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SORTS = new Set(['requests', 'refusals', 'risk']);

/**
 * The web dashboard on the admin listener: sign-in (a form, then an
 * HttpOnly SameSite=Strict session cookie), the app's shell and bundle, and
 * the live data as server-sent events (hub.ts, topics.ts). Actions go
 * through the admin API itself, which takes the session cookie plus its CSRF
 * token in place of a bearer token (authorize), so they are validated and
 * audited exactly as API calls are.
 */
export function registerDashboard(app: FastifyInstance, deps: DashboardDeps): Dashboard {
  const assets = deps.assets === undefined ? loadAssets() : (deps.assets ?? undefined);
  const sessions = new DashboardSessions();
  const series = new TrafficSeries();
  const startedAt = Date.now();
  let sampling = false;
  const sampler = setInterval(() => {
    if (deps.cluster === undefined) return series.add(Date.now(), deps.metrics.sample());
    if (sampling) return;
    sampling = true;
    deps.cluster
      .sample()
      .then((sample) => series.add(Date.now(), sample))
      .catch(() => {})
      .finally(() => (sampling = false));
  }, 1_000);
  sampler.unref();
  const feed = deps.feed;
  const hub = new StreamHub(
    1_000,
    (active) => {
      if (feed !== undefined) feed.active = active;
      deps.cluster?.onActive(active);
    },
    deps.cluster?.beforeTick,
  );
  // What every topic reads: the same for every stream, so built once.
  const sources: topics.TopicSources | undefined =
    feed === undefined
      ? undefined
      : {
          config: deps.config,
          store: deps.store,
          overrides: deps.overrides,
          metrics: deps.metrics,
          adaptive: deps.adaptive,
          storeKeys: deps.storeKeys,
          series,
          feed,
          startedAt,
          clock: deps.adaptiveClock,
          targetStates: deps.cluster?.targetStates ?? (() => deps.metrics.targetStates()),
        };

  const sessionOf = (request: FastifyRequest): DashboardSession | undefined =>
    sessions.get(cookieValue(request.headers.cookie, SESSION_COOKIE), (who, digest) => deps.auth().tokens.has(who, digest));
  const secure = (request: FastifyRequest) => request.protocol === 'https';
  const page = (reply: FastifyReply, status: number, html: string) => reply.code(status).headers(PAGE_HEADERS).type('text/html; charset=utf-8').send(html);
  const unavailable = (): string | undefined =>
    assets === undefined ? 'The dashboard is not built: run `npm run build` (it bundles dist/dashboard/public).' : feed === undefined ? 'This process serves no requests, so the dashboard has nothing to show.' : undefined;

  void app.register(async (scope) => {
    // Open to the admin app's token check: each route checks its session itself.
    scope.addHook('onRoute', markOpen);
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    scope.get('/dashboard', (_request, reply) => reply.redirect('/dashboard/', 308));
    scope.get('/dashboard/', (request, reply) => {
      const why = unavailable();
      if (why !== undefined) return page(reply, 503, notAvailablePage(assets, why));
      const session = sessionOf(request);
      if (session === undefined) return reply.headers(PAGE_HEADERS).redirect('/dashboard/login', 303);
      return page(reply, 200, appPage(assets as Assets, session.csrf));
    });
    scope.get('/dashboard/login', (request, reply) => {
      if (sessionOf(request) !== undefined) return reply.headers(PAGE_HEADERS).redirect('/dashboard/', 303);
      return page(reply, 200, loginPage(assets));
    });
    scope.post<{ Body: Record<string, string> | undefined }>('/dashboard/login', (request, reply) => {
      const auth = deps.auth();
      const address = normaliseIp(request.ip);
      const wait = auth.throttle.waitMs(address, auth.limit);
      if (wait > 0) {
        const seconds = Math.ceil(wait / 1000);
        return page(reply.header('retry-after', String(seconds)), 429, loginPage(assets, `Too many failed sign-ins from your address: try again in ${seconds} s.`));
      }
      const token = typeof request.body?.token === 'string' ? request.body.token : '';
      const who = token === '' ? undefined : auth.tokens.identifyToken(token);
      if (who === undefined) {
        if (auth.throttle.fail(address, auth.limit)) {
          const retryAfter = Math.ceil(auth.throttle.waitMs(address, auth.limit) / 1000);
          auth.logger.warn({ event: 'admin_auth_throttled', client: address, retry_after: retryAfter }, `dashboard: too many failed sign-ins from ${address}; refused for ${retryAfter}s`);
        }
        return page(reply, 401, loginPage(assets, 'That is not an admin token.'));
      }
      const session = sessions.create(who, tokenDigest(token));
      deps.logger.info({ audit: 'dashboard_sign_in', who, client: address }, `dashboard: ${who} signed in`);
      return reply
        .headers(PAGE_HEADERS)
        .header('set-cookie', sessionCookie(session.id, Math.floor(SESSION_TTL_MS / 1000), secure(request)))
        .redirect('/dashboard/', 303);
    });
    scope.post('/dashboard/logout', (request, reply) => {
      const session = sessionOf(request);
      if (session === undefined) return adminError(reply.headers(PAGE_HEADERS), 401, 'unauthorized');
      if (!csrfMatches(session, request.headers['x-csrf-token'])) return adminError(reply.headers(PAGE_HEADERS), 403, 'forbidden', { message: 'signing out needs the session\'s x-csrf-token' });
      sessions.end(session.id);
      deps.logger.info({ audit: 'dashboard_sign_out', who: session.who }, `dashboard: ${session.who} signed out`);
      return reply.headers(PAGE_HEADERS).header('set-cookie', clearedSessionCookie(secure(request))).code(204).send();
    });
    scope.get('/dashboard/api/session', (request, reply) => {
      const session = sessionOf(request);
      if (session === undefined) return adminError(reply.headers(PAGE_HEADERS), 401, 'unauthorized');
      const config = deps.config();
      return reply.headers(PAGE_HEADERS).send({
        who: session.who,
        csrf: session.csrf,
        expires_at: new Date(session.expiresAt).toISOString(),
        adaptive: config.adaptive !== null && deps.adaptive?.engine != null,
        key_store: config.keyStore.type === 'postgres',
        refresh_ms: 1000,
      });
    });
    scope.get<{ Querystring: Record<string, string | undefined> }>('/dashboard/api/stream', (request, reply) => {
      const session = sessionOf(request);
      if (session === undefined) return adminError(reply.headers(PAGE_HEADERS), 401, 'unauthorized');
      const s = sources;
      if (s === undefined) return adminError(reply.headers(PAGE_HEADERS), 503, 'dashboard_unavailable', { message: unavailable() });
      const repeated = Object.entries(request.query).find(([, value]) => Array.isArray(value));
      if (repeated !== undefined) return adminError(reply.headers(PAGE_HEADERS), 400, 'bad_request', { message: `${repeated[0]} is given more than once` });
      const chosen = topicOf(s, request.query);
      if ('error' in chosen) return adminError(reply.headers(PAGE_HEADERS), 400, 'bad_request', { message: chosen.error });
      reply.hijack();
      void hub.subscribe(chosen.key, chosen.make, reply.raw, () => sessionOf(request) !== undefined).catch((err: unknown) => {
        deps.logger.warn({ err }, 'dashboard: a stream failed');
        reply.raw.destroy();
      });
    });
    scope.get<{ Params: { file: string } }>('/dashboard/assets/:file', (request, reply) => {
      const file = assets?.files.get(request.params.file);
      if (file === undefined) return adminError(reply, 404, 'not_found');
      // Names carry a content hash: a changed file is a new name, so a browser may keep each for a year.
      return reply.headers({ 'content-type': file.type, 'cache-control': 'public, max-age=31536000, immutable', 'x-content-type-options': 'nosniff' }).send(file.body);
    });
  });

  return {
    authorize(request, reply) {
      const session = sessionOf(request);
      if (session === undefined) return 'none';
      if (UNSAFE.has(request.method)) {
        const origin = request.headers.origin;
        if (origin !== undefined && origin !== `${request.protocol}://${request.headers.host}`) {
          adminError(reply, 403, 'forbidden', { message: 'a dashboard session is accepted from the dashboard\'s own origin only' });
          return 'answered';
        }
        if (!csrfMatches(session, request.headers['x-csrf-token'])) {
          adminError(reply, 403, 'forbidden', { message: 'a dashboard session needs its x-csrf-token for this call' });
          return 'answered';
        }
      }
      request.adminId = session.who;
      return 'ok';
    },
    close() {
      clearInterval(sampler);
      hub.close();
    },
  };
}

/** The topic a stream asks for: its canonical key (same parameters, one computation) and how to make it. */
function topicOf(s: topics.TopicSources, q: Record<string, string | undefined>): { key: string; make: () => Topic } | { error: string } {
  // Repeated parameters were refused before this (they arrive as arrays).
  const text = (name: string, max = 512) => (q[name] ?? '').slice(0, max);
  const whole = (build: () => unknown | Promise<unknown>): Topic => ({
    snapshot: async () => sse('snapshot', await build()),
    tick: async () => sse('snapshot', await build()),
    wholeState: true,
  });
  switch (text('topic', 16)) {
    case 'overview':
      return { key: 'overview', make: () => whole(() => topics.overview(s)) };
    case 'routes':
      return { key: 'routes', make: () => whole(() => topics.routes(s)) };
    case 'clients': {
      const sort = text('sort', 16) || 'requests';
      if (!SORTS.has(sort)) return { error: 'sort is requests, refusals or risk' };
      const search = text('q').trim();
      return { key: `clients\u0000${sort}\u0000${search}`, make: () => whole(() => topics.clients(s, sort as topics.ClientSort, search)) };
    }
    case 'client': {
      const key = text('key');
      if (key === '') return { error: 'client needs key=<a client in any admin API form>' };
      return {
        key: `client\u0000${key}`,
        make: () => {
          // The label this topic keeps watched (what `key` resolves to may change: a key created later); none once closed.
          let watched: string | undefined;
          let closed = false;
          const build = async () => {
            const view = await topics.client(s, key);
            const label = view.error === null && !closed ? view.client : undefined;
            if (watched !== undefined && watched !== label) s.feed.unwatch(watched);
            if (label === undefined && view.error === null) s.feed.unwatch(view.client);
            watched = label;
            return sse('snapshot', view);
          };
          return {
            snapshot: build,
            tick: build,
            close: () => {
              closed = true;
              if (watched !== undefined) s.feed.unwatch(watched);
              watched = undefined;
            },
          };
        },
      };
    }
    case 'log': {
      const filter = { route: text('route'), client: text('client'), status: text('status', 3) };
      return {
        key: `log\u0000${filter.route}\u0000${filter.client}\u0000${filter.status}`,
        make: () => {
          let cursor = s.feed.seq;
          return {
            snapshot: async () => sse('snapshot', { at: Date.now(), lines: s.feed.linesSince(0).filter((l) => topics.logMatches(filter, l)).slice(0, 200).map(topics.lineView) }),
            tick: async () => {
              const lines = s.feed.linesSince(cursor).filter((l) => topics.logMatches(filter, l));
              cursor = s.feed.seq;
              return lines.length === 0 ? undefined : sse('append', { at: Date.now(), lines: lines.map(topics.lineView) });
            },
          };
        },
      };
    }
    default:
      return { error: 'topic is overview, routes, clients, client or log' };
  }
}
