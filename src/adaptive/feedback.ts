/**
 * The feedback loop's parts (issue 17, "Feedback loop"): what the engine
 * keeps of each assessed client for an operator to read back (its last
 * score, why, and its last band changes), how the top clients are picked,
 * and one labelled update applied, logged and counted.
 */
import type { BandName, BandState } from './bands.js';
import { FEATURE_NAMES, type Contribution, type FeatureName, type TrafficLabel } from './types.js';

/** One band change of a client: when, from which band to which, on what score. */
export interface BandChange {
  readonly at: number;
  readonly from: BandName;
  readonly to: BandName;
  readonly score: number;
}

/** Band changes kept per client, newest last: enough to read a flap, bounded so a flapping client costs no more. */
export const HISTORY_MAX = 8;

/**
 * What the engine holds per assessed client, inside its two-generation band
 * maps (so bounded by them): the band with its hysteresis, and the last
 * assessment as the request path computed it (nothing recomputed to show it).
 */
export interface ClientRecord {
  state: BandState;
  /** While blocked: the instant the block ends (block_for after it began); 0 otherwise. */
  blockedUntil: number;
  /** The client's label (ClientIdentity.label): what answers and logs show, never a raw key. */
  label: string;
  score: number;
  top: readonly Contribution[];
  reason: string | undefined;
  /** When it was last assessed. */
  at: number;
  history: BandChange[];
  /**
   * An operator labelled it good (feedback, or a raise): its band is never
   * worse than normal, so its limits are never cut below the configured ones,
   * until a `bad` label. One SGD step moves the shared model only a little;
   * this is what makes the label bind for the client it names at once.
   */
  vouched: boolean;
}

export function newRecord(label: string): ClientRecord {
  return { state: { band: 'normal' }, blockedUntil: 0, label, score: 0, top: [], reason: undefined, at: 0, history: [], vouched: false };
}

/** Notes a band change on the record, dropping the oldest past HISTORY_MAX. */
export function noteChange(record: ClientRecord, change: BandChange): void {
  if (record.history.length >= HISTORY_MAX) record.history.shift();
  record.history.push(change);
}

/**
 * Marks the record vouched for (`good`) or not (`bad`). A vouched client
 * leaves a cutting band at once (its next request), not after the
 * hysteresis hold.
 */
export function vouch(record: ClientRecord, label: TrafficLabel, now: number): void {
  record.vouched = label === 'good';
  if (record.vouched && (record.state.band === 'suspicious' || record.state.band === 'blocked')) {
    noteChange(record, { at: now, from: record.state.band, to: 'normal', score: record.score });
    record.state = { band: 'normal' };
    record.blockedUntil = 0;
  }
}

/** One client as the admin API lists it: its last assessment and its counts. */
export interface ClientView {
  /** The state key its features and band are kept under (ClientIdentity.key); for lookups, not for display. */
  readonly key: string;
  readonly label: string;
  readonly score: number;
  readonly band: BandName;
  readonly reason: string | undefined;
  readonly top: readonly Contribution[];
  /** When it was last assessed (the engine's clock). */
  readonly assessedAt: number;
  readonly history: readonly BandChange[];
  /** Requests seen and refused by its own limits since its features were (last) remembered; 0 once forgotten. */
  readonly requests: number;
  readonly refused: number;
}

export type ClientSort = 'risk' | 'requests' | 'refusals';

/** What clients are ranked on. */
export type Ranked = Pick<ClientView, 'label' | 'score' | 'requests' | 'refused'>;

/** Larger first by the sort's number, then by score, then by requests, then by label: a total order. */
export function compareViews(sort: ClientSort): (a: Ranked, b: Ranked) => number {
  const primary = sort === 'requests' ? (v: Ranked) => v.requests : sort === 'refusals' ? (v: Ranked) => v.refused : (v: Ranked) => v.score;
  return (a, b) => primary(b) - primary(a) || b.score - a.score || b.requests - a.requests || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0);
}

/**
 * The `k` first items of `items` under `compare` (negative: a comes first),
 * in order, in O(n log k): a heap of the k best seen, its worst at the root,
 * so listing the top 50 of 200,000 clients sorts no more than 50.
 */
export function topK<T>(items: Iterable<T>, k: number, compare: (a: T, b: T) => number): T[] {
  const heap: T[] = [];
  if (k <= 0) return heap;
  // worse(a, b): a comes after b, so a belongs nearer the root.
  const worse = (i: number, j: number) => compare(heap[i] as T, heap[j] as T) > 0;
  const swap = (i: number, j: number) => {
    const t = heap[i] as T;
    heap[i] = heap[j] as T;
    heap[j] = t;
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(l, m)) m = l;
      if (r < heap.length && worse(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (const item of items) {
    if (heap.length < k) {
      heap.push(item);
      for (let i = heap.length - 1; i > 0 && worse(i, (i - 1) >> 1); i = (i - 1) >> 1) swap(i, (i - 1) >> 1);
    } else if (compare(item, heap[0] as T) < 0) {
      heap[0] = item;
      down(0);
    }
  }
  return heap.sort(compare);
}

/** Thrown by AdaptiveEngine.learn when the config says `learn: false`; the admin API answers 409 learning_disabled. */
export class LearningDisabledError extends Error {
  constructor() {
    super('adaptive.learn is false: labels are not learned from (set adaptive.learn: true to enable feedback)');
    this.name = 'LearningDisabledError';
  }
}

/** What one learned label did: the client's score on its features before and after the step, the new weights version, the features. */
export interface LearnResult {
  readonly before: number;
  readonly after: number;
  readonly version: string;
  readonly features: Float64Array;
}

/**
 * Where a label came from: the feedback endpoint, an admin block, an admin
 * raise (PUT /v1/limits/:key), or the gateway itself from outcomes (failed
 * logins in a row: a weak label, which binds no client).
 */
export type FeedbackSource = 'api' | 'admin_block' | 'admin_raise' | 'outcome';

/** What a feedback update needs of the engine (AdaptiveEngine.learnShared: saved to the weights store when there is one). */
export interface Learner {
  learnShared(stateKey: string, label: TrafficLabel, now: number, weak?: boolean): Promise<LearnResult | undefined>;
}

export interface FeedbackSinks {
  readonly logger: { info(fields: object, msg: string): void; warn(fields: object, msg: string): void };
  /** throttlegate_feedback_total (AdaptiveMetrics.countFeedback); null when adaptive metrics are not registered. */
  readonly count: ((label: TrafficLabel, source: FeedbackSource) => void) | null;
}

/** The sinks a label is reported to: the log, and throttlegate_feedback_total when adaptive metrics are registered. */
export function feedbackSinks(logger: FeedbackSinks['logger'], metrics: { countFeedback(label: TrafficLabel, source: FeedbackSource): void } | null | undefined): FeedbackSinks {
  return { logger, count: metrics == null ? null : (label, source) => metrics.countFeedback(label, source) };
}

/** One label to learn: whose (state key and label), which, from where, by whom (the admin token id). */
export interface Feedback {
  readonly stateKey: string;
  readonly client: string;
  readonly label: TrafficLabel;
  readonly source: FeedbackSource;
  readonly who: string;
}

/**
 * Learns one label and reports it: one log line (msg "adaptive feedback")
 * naming the client by its label (never the raw key), the label, its
 * source, the score before and after, the weights version and the feature
 * values, and one count. Undefined (nothing logged) when the engine holds no
 * features for the client; rejects with LearningDisabledError under
 * `learn: false`, and with WeightsStoreError (weights-store.ts) when the
 * weights store failed it (nothing learned, logged or counted then).
 */
export async function applyFeedback(engine: Learner, feedback: Feedback, now: number, sinks: FeedbackSinks): Promise<LearnResult | undefined> {
  const result = await engine.learnShared(feedback.stateKey, feedback.label, now, feedback.source === 'outcome');
  if (result === undefined) return undefined;
  sinks.count?.(feedback.label, feedback.source);
  sinks.logger.info(
    {
      audit: 'feedback',
      who: feedback.who,
      client: feedback.client,
      label: feedback.label,
      source: feedback.source,
      score_before: result.before,
      score_after: result.after,
      weights_version: result.version,
      features: featureRecord(result.features),
    },
    'adaptive feedback',
  );
  return result;
}

/** A feature vector as name -> value, in FEATURE_NAMES order (for logs and answers). */
export function featureRecord(x: Float64Array): Record<FeatureName, number> {
  const out = {} as Record<FeatureName, number>;
  FEATURE_NAMES.forEach((name, i) => {
    out[name] = x[i] as number;
  });
  return out;
}
