import type { AdaptiveConfig, BandConfig, BandName } from './config.js';
import { FeatureTable } from './features.js';
import { DEFAULT_LEARNING, RiskModel, type LearningOptions, type Weights } from './model.js';
import { nextBand } from './bands.js';
import { reasonOf } from './reasons.js';
import { FEATURE_COUNT, type Contribution, type RequestSignal, type TrafficLabel } from './types.js';
import { headOf, type HeadSource } from './signal.js';
import {
  LearningDisabledError, compareViews, newRecord, noteChange, topK, vouch,
  type ClientRecord, type ClientSort, type ClientView, type LearnResult,
} from './feedback.js';
import type { SharedWeights } from './weights-sync.js';
import { sharedStep } from './drift-window.js';
import { weightsOnly } from './weights-store.js';

/** What adaptive protection says about one client now. */
export interface Assessment {
  readonly score: number;
  readonly band: BandName;
  /** The band's factor on the client's own limits (0 for blocked). */
  readonly limitFactor: number;
  /** The three features that pushed the score up most. */
  readonly top: readonly Contribution[];
  /** The stable reason code (reasons.ts) of the top feature, for a band that acts (suspicious, blocked). */
  readonly reason: string | undefined;
}

// Bands are decided on scores; a band boundary is crossed back only past this margin, held this long.
const HYSTERESIS = { margin: 5, holdMs: 30_000 };

/**
 * Adaptive protection for one gateway: the feature table every finished
 * request feeds, the model that scores it, and each client's band with its
 * hysteresis, last assessment and last band changes (feedback.ts). It
 * outlives reloads (features and bands are the clients', not the config's);
 * `configure` takes a reloaded `adaptive:` block.
 *
 * Client records are kept in two generations (as RecentLabels): at most
 * 2 x maxClients, every note O(1), the least recently assessed forgotten.
 *
 * Its model is replaced whole, never changed under a request, when weights
 * are shared through a store (`share`): a poll adopts the stored version,
 * and learnShared saves each step before scoring with it.
 */
export class AdaptiveEngine {
  #config: AdaptiveConfig;
  readonly #table: FeatureTable;
  #model: RiskModel;
  #shared: SharedWeights | null = null;
  #learning: LearningOptions = DEFAULT_LEARNING;
  readonly #x = new Float64Array(FEATURE_COUNT);
  #current = new Map<string, ClientRecord>();
  #previous = new Map<string, ClientRecord>();

  constructor(config: AdaptiveConfig, model: RiskModel, table: FeatureTable = new FeatureTable({ maxClients: config.maxClients })) {
    this.#config = config;
    this.#model = model;
    this.#table = table;
  }

  get config(): AdaptiveConfig {
    return this.#config;
  }

  get model(): RiskModel {
    return this.#model;
  }

  configure(config: AdaptiveConfig): void {
    this.#config = config;
  }

  observe(signal: RequestSignal): void {
    this.#table.observe(signal);
  }

  /** Counts a request (blocked, or would have been) in the client's totals only: its answer is not a feature. */
  tally(clientKey: string, refused: boolean): void {
    this.#table.tally(clientKey, refused);
  }

  /**
   * The client's score and band at `now`, remembered with its label
   * (ClientIdentity.label) for the admin API. A client never observed is
   * judged on what its request's head says (FeatureTable.firstSight): a
   * stuffer's fresh key is new, its network's key churn and its headers are not.
   */
  assess(clientKey: string, label: string, now: number, method: string, head: HeadSource, clientIp: string): Assessment {
    const risk = this.#score(clientKey, now, method, head, clientIp);
    const record = this.#recordOf(clientKey, label);
    this.#step(record, risk.score, now);
    const assessment = this.#assessment(risk.score, record.state.band, risk.top);
    record.label = label;
    record.score = risk.score;
    record.top = risk.top;
    record.reason = assessment.reason;
    record.at = now;
    return assessment;
  }

  /** What assess would answer at `now`, changing nothing (no band moves, no record made): for /v1/explain. */
  peek(clientKey: string, now: number, method: string, head: HeadSource, clientIp: string): Assessment {
    const risk = this.#score(clientKey, now, method, head, clientIp);
    const held = this.#current.get(clientKey) ?? this.#previous.get(clientKey);
    const record = held === undefined ? newRecord('') : { ...held, history: [] };
    this.#step(record, risk.score, now);
    return this.#assessment(risk.score, record.state.band, risk.top);
  }

  /** The features a model scores for this client, or undefined; for explanations and feedback. */
  features(clientKey: string, now: number): Float64Array | undefined {
    const x = new Float64Array(FEATURE_COUNT);
    return this.#table.features(clientKey, now, x) ? x : undefined;
  }

  counts(clientKey: string): { requests: number; refused: number } | undefined {
    return this.#table.counts(clientKey);
  }

  /**
   * One labelled step of this instance's model (RiskModel.learn) on the
   * client's features at `now`: undefined when the table holds none for it.
   * Throws LearningDisabledError when the config says `learn: false`. With
   * weights shared (`share`) the step is not saved, and the next poll that
   * reads the stored version replaces it: feedback goes through learnShared.
   */
  learn(stateKey: string, label: TrafficLabel, now: number, weak = false): LearnResult | undefined {
    if (!this.#config.learn) throw new LearningDisabledError();
    const x = this.features(stateKey, now);
    if (x === undefined) return undefined;
    if (!weak) this.#vouch(stateKey, label, now);
    const { before, after } = this.#model.learn(x, label, now);
    return { before, after, version: this.#model.weights.version, features: x };
  }

  /**
   * A label learned as feedback: `learn` without a weights store; with one,
   * the step is taken from the latest stored weights and saved by
   * compare-and-set (SharedWeights.update), each weight held within the
   * stored hour's drift window (drift-window.ts), and this instance scores
   * with the saved weights from then on. Rejects with WeightsStoreError
   * when the store fails or keeps losing races: nothing is learned then,
   * and the client is not vouched for. `weak`: a label the gateway inferred
   * from outcomes (login-streaks.ts), learned like any other but binding no
   * client: only an operator's label vouches for one or lifts that.
   */
  async learnShared(stateKey: string, label: TrafficLabel, now: number, weak = false): Promise<LearnResult | undefined> {
    const shared = this.#shared;
    if (shared === null) return this.learn(stateKey, label, now, weak);
    if (!this.#config.learn) throw new LearningDisabledError();
    const x = this.features(stateKey, now);
    if (x === undefined) return undefined;
    let before = 0;
    const saved = await shared.update((stored) => {
      // Nothing stored (or only another model's learning): this instance's weights are the start.
      const step = sharedStep(stored ?? this.#model.weights, x, label, now, this.#learning);
      before = step.before;
      return step.next;
    });
    this.#model = new RiskModel(weightsOnly(saved), this.#learning);
    if (!weak) this.#vouch(stateKey, label, now);
    return { before, after: this.#model.score(x).score, version: saved.version, features: x };
  }

  /**
   * Shares the model's weights through `shared` (weights-sync.ts): from now
   * on each stored version other than the model's is adopted as the poll
   * reads it, and learnShared learns through the store. Once, at creation.
   */
  share(shared: SharedWeights, learning: LearningOptions = DEFAULT_LEARNING): void {
    this.#shared = shared;
    this.#learning = learning;
    shared.start((weights) => this.adopt(weights));
  }

  /** Scores with `weights` from the next request on, when their version is not the model's (the swap is one assignment). */
  adopt(weights: Weights): void {
    if (weights.version !== this.#model.weights.version) this.#model = new RiskModel(weightsOnly(weights), this.#learning);
  }

  /** An operator labelled the client good (and no operator has labelled it bad since). */
  vouched(stateKey: string): boolean {
    return (this.#current.get(stateKey) ?? this.#previous.get(stateKey))?.vouched === true;
  }

  /** The client's last assessment, band changes and counts, or undefined when it holds no record. */
  client(stateKey: string): ClientView | undefined {
    const record = this.#current.get(stateKey) ?? this.#previous.get(stateKey);
    return record === undefined ? undefined : this.#view(stateKey, record);
  }

  /** The first `limit` clients by `sort` (risk: last score; requests; refusals), largest first. */
  clients(sort: ClientSort, limit: number): ClientView[] {
    return topK(this.#ranked(), limit, compareViews(sort)).map((r) => this.#view(r.key, r.record));
  }

  /** Clients per band, over the records held (the `throttlegate_risk_clients` gauge). */
  bandCounts(): Record<BandName, number> {
    const counts: Record<BandName, number> = { trusted: 0, normal: 0, suspicious: 0, blocked: 0 };
    for (const [, record] of this.#records()) counts[record.state.band]++;
    return counts;
  }

  get trackedClients(): number {
    return this.#table.size;
  }

  /** A label binds the client it names at once (feedback.ts, vouch), whatever one SGD step did to the shared model. */
  #vouch(stateKey: string, label: TrafficLabel, now: number): void {
    const record = this.#current.get(stateKey) ?? this.#previous.get(stateKey);
    if (record !== undefined) vouch(record, label, now);
  }

  #score(clientKey: string, now: number, method: string, head: HeadSource, clientIp: string) {
    if (!this.#table.features(clientKey, now, this.#x)) this.#table.firstSight(headOf(method, head, clientIp), now, this.#x);
    return this.#model.score(this.#x);
  }

  /** Moves the record's band for a new score (hysteresis, block_for), noting a change in its history. */
  #step(record: ClientRecord, score: number, now: number): void {
    if (record.state.band === 'blocked' && now < record.blockedUntil) return;
    const from = record.state.band;
    // A block that has run out is forgotten: the client starts again in its score's band.
    const moved = nextBand(this.#config.bands, record.blockedUntil > 0 ? undefined : record.state, score, now, HYSTERESIS);
    const state = record.vouched && (moved.band === 'suspicious' || moved.band === 'blocked') ? { band: 'normal' as const } : moved;
    if (state.band !== from) noteChange(record, { at: now, from, to: state.band, score });
    record.state = state;
    record.blockedUntil = state.band === 'blocked' ? now + this.#config.blockForMs : 0;
  }

  #assessment(score: number, band: BandName, top: readonly Contribution[]): Assessment {
    const limitFactor = this.#config.bands.find((b: BandConfig) => b.name === band)?.limitFactor ?? 1;
    return { score, band, limitFactor, top, reason: band === 'suspicious' || band === 'blocked' ? reasonOf(top) : undefined };
  }

  #recordOf(clientKey: string, label: string): ClientRecord {
    let record = this.#current.get(clientKey);
    if (record !== undefined) return record;
    record = this.#previous.get(clientKey) ?? newRecord(label);
    if (this.#current.size >= this.#config.maxClients) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(clientKey, record);
    return record;
  }

  /** Every record once: the current generation's copy wins over the previous one's. */
  *#records(): Generator<[string, ClientRecord]> {
    yield* this.#current;
    for (const entry of this.#previous) if (!this.#current.has(entry[0])) yield entry;
  }

  /** What clients are ranked on, without the copies a view makes (only the winners become views). */
  *#ranked() {
    for (const [key, record] of this.#records()) {
      const counts = this.#table.counts(key);
      yield { key, record, label: record.label, score: record.score, requests: counts?.requests ?? 0, refused: counts?.refused ?? 0 };
    }
  }

  #view(key: string, r: ClientRecord): ClientView {
    const counts = this.#table.counts(key);
    return {
      key,
      label: r.label,
      score: r.score,
      band: r.state.band,
      reason: r.reason,
      top: r.top,
      assessedAt: r.at,
      history: [...r.history],
      requests: counts?.requests ?? 0,
      refused: counts?.refused ?? 0,
    };
  }
}
