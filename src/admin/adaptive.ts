import type { GatewayConfig } from '../config/types.js';
import type { AdaptiveEngine } from '../adaptive/engine.js';
import type { AdaptiveMetrics } from '../adaptive/metrics.js';
import { applyFeedback, feedbackSinks, type FeedbackSource, type LearnResult } from '../adaptive/feedback.js';
import { WeightsStoreError } from '../adaptive/weights-store.js';
import type { TrafficLabel } from '../adaptive/types.js';
import type { Override, Overrides } from '../limit/overrides.js';
import { limitSetFor } from '../limit/sets.js';
import type { ClientIdentity } from '../limit/keys.js';
import type { Logger } from '../observability/logging.js';
import type { ResolvedClient } from './client-key.js';

/** What the admin API reads of adaptive protection: the gateway's AdaptiveHolder (its engine once a config turned it on). */
export interface AdaptiveAccess {
  readonly engine: AdaptiveEngine | null;
  readonly metrics: AdaptiveMetrics | null;
}

/** The engine answering for the live config: null when the config has no `adaptive:` block, or this process holds no engine (the cluster primary: workers score). */
export function liveEngine(access: AdaptiveAccess | undefined, config: GatewayConfig): AdaptiveEngine | null {
  return config.adaptive === null ? null : (access?.engine ?? null);
}

/**
 * The state key the engine knows a client by: of the keys the form names (or,
 * for a label, the one this process last saw behind it, as /v1/limits reads
 * live state), the first it holds features for, else the first it holds a
 * record for (features are forgotten before records: a quiet client).
 */
export function engineKeyOf(engine: AdaptiveEngine, resolved: ResolvedClient, overrides: Overrides, now: number): string | undefined {
  const candidates = resolved.stateKeys ?? [overrides.recent.keyOf(resolved.label) ?? resolved.label];
  return candidates.find((key) => engine.features(key, now) !== undefined) ?? candidates.find((key) => engine.client(key) !== undefined);
}

/** One override's weight as feedback (null: none), and what it did. */
export interface OverrideFeedback {
  readonly label: TrafficLabel;
  readonly source: FeedbackSource;
  readonly score_before: number;
  readonly score_after: number;
  readonly weights_version: string;
}

/**
 * An operator's override as a label, learned when adaptive protection is on,
 * learns, and holds features for the client (nothing otherwise, and never an
 * error: the override stands either way).
 *
 * - A block is `bad` (source admin_block).
 * - A limit is `good` (source admin_raise) when it raises the client: its
 *   rate is above the client's own rate in force before it, which is the
 *   override it replaces (a block counting as 0), else the highest rate of
 *   the client-scoped limits its plan (or the anonymous set) gives it on any
 *   route. A client with no limit of its own is not raised by one, and a cut
 *   says nothing either way (a cut is as often about cost as about abuse).
 *
 * A weights store that fails the label is logged; the override stands.
 */
export async function learnFromOverride(
  deps: { readonly logger: Logger; readonly adaptive?: AdaptiveAccess; readonly overrides: Overrides },
  config: GatewayConfig,
  resolved: ResolvedClient,
  previous: Override | undefined,
  next: Override,
  who: string,
  now: number,
): Promise<OverrideFeedback | null> {
  const engine = liveEngine(deps.adaptive, config);
  if (engine === null || !engine.config.learn) return null;
  let feedback: { label: TrafficLabel; source: FeedbackSource };
  if (next.kind === 'block') feedback = { label: 'bad', source: 'admin_block' };
  else if (next.requestsPerSecond > rateBefore(config, resolved.identity, previous)) feedback = { label: 'good', source: 'admin_raise' };
  else return null;
  const stateKey = engineKeyOf(engine, resolved, deps.overrides, now);
  if (stateKey === undefined) return null;
  let result: LearnResult | undefined;
  try {
    result = await applyFeedback(engine, { stateKey, client: resolved.label, who, ...feedback }, now, feedbackSinks(deps.logger, deps.adaptive?.metrics));
  } catch (err) {
    if (!(err instanceof WeightsStoreError)) throw err;
    deps.logger.warn({ err: err.message, client: resolved.label, source: feedback.source }, 'adaptive: feedback not learned');
    return null;
  }
  if (result === undefined) return null;
  return { ...feedback, score_before: result.before, score_after: result.after, weights_version: result.version };
}

/** The client's own rate before an override (see learnFromOverride); Infinity when it has no client-scoped rate limit. */
function rateBefore(config: GatewayConfig, client: ClientIdentity, previous: Override | undefined): number {
  if (previous !== undefined) return previous.kind === 'block' ? 0 : previous.requestsPerSecond;
  let rate = -Infinity;
  for (const route of config.routes) {
    if (route.limitSets === null) continue;
    for (const l of limitSetFor(route.limitSets, client, undefined).limits) {
      if (l.scope === 'client' && l.algorithm !== 'concurrency') rate = Math.max(rate, l.rate);
    }
  }
  return rate === -Infinity ? Infinity : rate;
}
