import type { FastifyInstance, FastifyReply } from 'fastify';
import type { GatewayConfig } from '../config/types.js';
import type { AdaptiveEngine } from '../adaptive/engine.js';
import { LearningDisabledError, applyFeedback, featureRecord, feedbackSinks, type BandChange, type ClientSort, type ClientView } from '../adaptive/feedback.js';
import type { TrafficLabel } from '../adaptive/types.js';
import { monotonicClock } from '../limit/stores/store.js';
import type { AdminDeps } from './app.js';
import type { ExplainContext } from './explain.js';
import { engineKeyOf, liveEngine } from './adaptive.js';
import { resolveClientKey } from './client-key.js';
import { adminError } from './errors.js';
import { WeightsStoreError } from '../adaptive/weights-store.js';
import { clientKeyParam, clientResponse, clientsQuery, clientsResponse, errorResponse, feedbackBody, feedbackResponse } from './schemas.js';

type View = () => { config: GatewayConfig; explain: ExplainContext };

const OFF = 'adaptive protection is off: the live config has no adaptive: block (or, with workers, each worker scores its own clients)';
const LEARNING_OFF = 'adaptive.learn is false: labels are not learned from';
// Not yet in AdminErrorName (src/admin/errors.ts, not this change's file): the cast goes once it is added there.
const NOT_SEEN = 'adaptive protection holds no features for this client (never seen on an adaptive route here, or forgotten)';

/**
 * Adaptive protection's feedback loop on the admin API: GET /v1/clients (the
 * top clients by risk, requests or refusals), GET /v1/clients/:key (one
 * client, with its features and band changes) and POST /v1/feedback (a
 * label the model learns from; 503 store_unavailable when the weights store
 * failed it). 409 adaptive_off while the live config has no `adaptive:` block.
 */
export function registerClientRoutes(app: FastifyInstance, deps: AdminDeps, view: View): void {
  const clock = deps.adaptiveClock ?? monotonicClock;
  const engineOr409 = (reply: FastifyReply): AdaptiveEngine | null => {
    const engine = liveEngine(deps.adaptive, view().config);
    if (engine === null) adminError(reply, 409, 'adaptive_off', { message: OFF });
    return engine;
  };

  app.get<{ Querystring: { sort?: ClientSort; limit?: string } }>(
    '/v1/clients',
    { schema: { querystring: clientsQuery, response: { 200: clientsResponse, 400: errorResponse, 401: errorResponse, 409: errorResponse } } },
    async (request, reply) => {
      const engine = engineOr409(reply);
      if (engine === null) return reply;
      const sort = request.query.sort ?? 'risk';
      const clients = engine.clients(sort, Number(request.query.limit ?? 50)).map(listed);
      return { sort, tracked: engine.trackedClients, clients };
    },
  );

  app.get<{ Params: { key: string } }>(
    '/v1/clients/:key',
    { schema: { params: clientKeyParam, response: { 200: clientResponse, 400: errorResponse, 401: errorResponse, 404: errorResponse, 409: errorResponse } } },
    async (request, reply) => {
      const engine = engineOr409(reply);
      if (engine === null) return reply;
      const resolved = resolveClientKey(request.params.key, view().config, deps.keys?.table);
      if ('error' in resolved) return adminError(reply, 400, 'bad_request', { message: resolved.error });
      const now = clock();
      const key = engineKeyOf(engine, resolved, deps.overrides, now);
      if (key === undefined) return adminError(reply, 404, 'client_not_seen', { key: resolved.label, message: NOT_SEEN });
      const features = engine.features(key, now);
      const seen = engine.client(key);
      const scoredNow = features === undefined ? undefined : engine.model.score(features);
      const counts = engine.counts(key);
      return {
        ...(seen === undefined ? unassessed(resolved.label, scoredNow?.top ?? []) : listed(seen)),
        requests: counts?.requests ?? 0,
        refused: counts?.refused ?? 0,
        features: features === undefined ? null : featureRecord(features),
        score_now: scoredNow?.score ?? null,
        weights_version: engine.model.weights.version,
        history: (seen?.history ?? []).map(change),
      };
    },
  );

  app.post<{ Body: { key: string; label: TrafficLabel } }>(
    '/v1/feedback',
    { schema: { body: feedbackBody, response: { 200: feedbackResponse, 400: errorResponse, 401: errorResponse, 404: errorResponse, 409: errorResponse } } },
    async (request, reply) => {
      const engine = engineOr409(reply);
      if (engine === null) return reply;
      const { config } = view();
      if (config.adaptive?.learn === false) return adminError(reply, 409, 'learning_disabled', { message: LEARNING_OFF });
      const resolved = resolveClientKey(request.body.key, config, deps.keys?.table);
      if ('error' in resolved) return adminError(reply, 400, 'bad_request', { message: resolved.error });
      const { label } = request.body;
      const now = clock();
      const stateKey = engineKeyOf(engine, resolved, deps.overrides, now);
      let result;
      try {
        result = stateKey === undefined ? undefined : await applyFeedback(engine, { stateKey, client: resolved.label, label, source: 'api', who: request.adminId }, now, feedbackSinks(deps.logger, deps.adaptive?.metrics));
      } catch (err) {
        // The engine's own config said no (a reload between the two reads).
        if (err instanceof LearningDisabledError) return adminError(reply, 409, 'learning_disabled', { message: LEARNING_OFF });
        // The weights store (Redis, or adaptive.weights_file) failed or kept losing races: nothing was learned, the caller may retry.
        if (err instanceof WeightsStoreError) {
          deps.logger.warn({ err: err.message, client: resolved.label }, 'adaptive: feedback not learned');
          return adminError(reply, 503, 'store_unavailable', { message: err.message });
        }
        throw err;
      }
      if (result === undefined) return adminError(reply, 404, 'client_not_seen', { key: resolved.label, message: NOT_SEEN });
      return { key: resolved.label, label, score_before: result.before, score_after: result.after, weights_version: result.version };
    },
  );
}

/** A client as listed: its label, never its state key. */
function listed(v: ClientView) {
  return { client: v.label, score: v.score, band: v.band, reason: v.reason ?? null, top: v.top, requests: v.requests, refused: v.refused, assessed_at: iso(v.assessedAt) };
}

/** A client with features but no band record: an override holds it (overrides win, so it is not assessed) or its record was forgotten. */
function unassessed(label: string, top: ClientView['top']) {
  return { client: label, score: null, band: null, reason: null, top, assessed_at: null };
}

function change(c: BandChange) {
  return { at: iso(c.at), from: c.from, to: c.to, score: c.score };
}

/** The engine's clock reads epoch milliseconds (performance.timeOrigin + now()). */
function iso(ms: number): string | null {
  return Number.isFinite(ms) && ms > 0 ? new Date(ms).toISOString() : null;
}
