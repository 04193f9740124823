import type { AdaptiveConfig, BandConfig, BandName } from './config.js';
import { FeatureTable } from './features.js';
import { RiskModel } from './model.js';
import { nextBand, type BandState } from './bands.js';
import { reasonOf } from './reasons.js';
import { FEATURE_COUNT, type Contribution, type RequestSignal } from './types.js';
import type { IncomingHttpHeaders } from 'node:http';
import { headOf } from './signal.js';

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

interface ClientBand {
  state: BandState;
  /** While blocked: the instant the block ends (block_for after it began). */
  blockedUntil: number;
}

// Bands are decided on scores; a band boundary is crossed back only past this margin, held this long.
const HYSTERESIS = { margin: 5, holdMs: 30_000 };

/**
 * Adaptive protection for one gateway: the feature table every finished
 * request feeds, the model that scores it, and each client's band with its
 * hysteresis. It outlives reloads (features and bands are the clients', not
 * the config's); `configure` takes a reloaded `adaptive:` block.
 *
 * Band states are kept in two generations (as RecentLabels): at most
 * 2 x maxClients, every note O(1), the least recently assessed forgotten.
 */
export class AdaptiveEngine {
  #config: AdaptiveConfig;
  readonly #table: FeatureTable;
  readonly #model: RiskModel;
  readonly #x = new Float64Array(FEATURE_COUNT);
  #current = new Map<string, ClientBand>();
  #previous = new Map<string, ClientBand>();

  constructor(config: AdaptiveConfig, model: RiskModel) {
    this.#config = config;
    this.#model = model;
    this.#table = new FeatureTable({ maxClients: config.maxClients });
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

  /**
   * The client's score and band at `now`. A client never observed is judged
   * on what its request's head says (FeatureTable.firstSight): a stuffer's
   * fresh key is new, its network's key churn and its headers are not.
   */
  assess(clientKey: string, now: number, method: string, headers: IncomingHttpHeaders, clientIp: string): Assessment {
    if (!this.#table.features(clientKey, now, this.#x)) this.#table.firstSight(headOf(method, headers, clientIp), now, this.#x);
    const risk = this.#model.score(this.#x);
    const entry = this.#bandOf(clientKey);
    const bands = this.#config.bands;
    if (entry.state.band === 'blocked' && now < entry.blockedUntil) return this.#assessment(risk.score, bands, 'blocked', risk.top);
    const state = nextBand(bands, entry.blockedUntil > 0 ? undefined : entry.state, risk.score, now, HYSTERESIS);
    entry.state = state;
    entry.blockedUntil = state.band === 'blocked' ? now + this.#config.blockForMs : 0;
    return this.#assessment(risk.score, bands, state.band, risk.top);
  }

  /** The features a model scores for this client, or undefined; for explanations and feedback. */
  features(clientKey: string, now: number): Float64Array | undefined {
    const x = new Float64Array(FEATURE_COUNT);
    return this.#table.features(clientKey, now, x) ? x : undefined;
  }

  counts(clientKey: string): { requests: number; refused: number } | undefined {
    return this.#table.counts(clientKey);
  }

  /** Clients per band, over the band states held (the `throttlegate_risk_clients` gauge). */
  bandCounts(): Record<BandName, number> {
    const counts: Record<BandName, number> = { trusted: 0, normal: 0, suspicious: 0, blocked: 0 };
    const seen = new Set<string>();
    for (const generation of [this.#current, this.#previous]) {
      for (const [key, entry] of generation) {
        if (seen.has(key)) continue;
        seen.add(key);
        counts[entry.state.band]++;
      }
    }
    return counts;
  }

  get trackedClients(): number {
    return this.#table.size;
  }

  #assessment(score: number, bands: readonly BandConfig[], band: BandName, top: readonly Contribution[]): Assessment {
    const limitFactor = bands.find((b) => b.name === band)?.limitFactor ?? 1;
    return { score, band, limitFactor, top, reason: band === 'suspicious' || band === 'blocked' ? reasonOf(top) : undefined };
  }

  #bandOf(clientKey: string): ClientBand {
    let entry = this.#current.get(clientKey);
    if (entry !== undefined) return entry;
    entry = this.#previous.get(clientKey) ?? { state: { band: 'normal' }, blockedUntil: 0 };
    if (this.#current.size >= this.#config.maxClients) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(clientKey, entry);
    return entry;
  }
}
