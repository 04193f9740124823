import { keyHash } from '../limit/stores/bucket-table.js';
import { AgentVerdicts } from './agent.js';
import { ChurnTable } from './churn.js';
import { LruSlots, grown } from './lru-slots.js';
import {
  AUTH_FAIL, BODY, BOT, COVERAGE, F32_WIDTH, F64_WIDTH, GAPS, LAST_AT, LIMIT_RATE, NETWORK, NON_GET, NOT_FOUND, NO_ACCEPT,
  NO_AGENT, NO_LANGUAGE, PATHS, REFUSALS, REFUSED, REQUESTS, SERVER_ERROR, TOTAL, U32_WIDTH, addGap, regularity,
} from './feature-row.js';
import { sketchAdd, sketchEstimate } from './sketch.js';
import { FEATURE_NAMES, type FeatureName, type RequestSignal } from './types.js';

const MAX_U32 = 0xffffffff;
const MIN_SEEN_MS = 1000;
const PATH_SPREAD_FULL = 30;
const KEY_CHURN_FULL = 20;
// Distinct seeds per use, so a path, a network and a key hash independently.
const PATH_SEED = 0x5bd1e995;
const NETWORK_SEED = 0x27d4eb2f;

const position = (name: FeatureName): number => FEATURE_NAMES.indexOf(name);
const PRESSURE_AT = position('pressure');
const PATH_SPREAD_AT = position('path_spread');
const REGULARITY_AT = position('regularity');
const BODY_SIZE_AT = position('body_size');
const KEY_CHURN_AT = position('key_churn');
const NON_GET_AT = position('non_get_share');
const NO_AGENT_AT = position('no_user_agent');
const NO_ACCEPT_AT = position('no_accept');
const NO_LANGUAGE_AT = position('no_accept_language');
const BOT_AT = position('bot_agent');

/** What a request's head alone says of a client (FeatureTable.firstSight). */
export type FirstSight = Pick<RequestSignal, 'method' | 'userAgent' | 'hasAccept' | 'hasAcceptLanguage' | 'network'>;
/** Pairs of (feature position, Float32 count) for the plain shares. */
const SHARES = [
  position('refused_share'), REFUSED,
  position('auth_fail_share'), AUTH_FAIL,
  position('not_found_share'), NOT_FOUND,
  position('server_error_share'), SERVER_ERROR,
  position('non_get_share'), NON_GET,
  position('no_user_agent'), NO_AGENT,
  position('no_accept'), NO_ACCEPT,
  position('no_accept_language'), NO_LANGUAGE,
  position('bot_agent'), BOT,
];

/** FeatureTable's options; every one has a default. */
export interface FeatureTableOptions {
  /** Clients kept at most; the least recently seen is forgotten for a new one (default 100_000). */
  readonly maxClients?: number;
  /** Networks kept for key churn at most (default 50_000). */
  readonly maxNetworks?: number;
  /** Half-life of every decayed count (default 60_000 ms). */
  readonly halfLifeMs?: number;
  /** Hash seed (default random per table); tests fix it so sketches read the same every run. */
  readonly seed?: number;
}

/**
 * The per-client feature table of adaptive protection: each finished request
 * is folded into its client's row in O(1), nothing allocated, and a row reads
 * back as FEATURE_NAMES' values in [0, 1] as of any instant.
 *
 * Counts decay exponentially (half-life `halfLifeMs`) so old behaviour fades.
 * A row stores them as of its last request and decays them to `now` on
 * reading, so a quiet client costs nothing. The normalisations:
 * - pressure: decayed request rate / its limit's rate, capped at 1 (0 with no
 *   limit). A decayed count W over a client seen for A ms reads a steady rate
 *   r as W = r (1 - e^-kA) / k, so r = W k / coverage with coverage =
 *   1 - e^-kA kept alongside (A from its first request; Adam's bias
 *   correction): a new client's rate is right at once instead of ramping over
 *   a half-life. A is read as at least 1 s, so one request reads 1 request/s.
 * - the shares (refused, 401/403, 404, 5xx, non-GET/HEAD, no User-Agent (or an
 *   empty one), no Accept, no Accept-Language, isbot's verdict): decayed
 *   matching count / decayed count. Time alone does not move a share (both
 *   decay alike); later requests do, weighted by recency.
 * - path_spread: distinct paths over the last minute (sketch.ts) / 30, capped.
 * - regularity: 1 - the coefficient of variation of inter-arrival gaps,
 *   clamped to [0, 1]; 0 until 5 gaps are seen. The gaps' mean and variance
 *   are Welford's, weighted with a forgetting factor per gap (7/8: the last
 *   ~8 gaps count most) rather than per half-life: a client seen once a
 *   minute would otherwise have one gap of weight and read as metronomic.
 * - body_size: log10(1 + decayed mean body bytes) / 6, capped (1 at 1 MB).
 * - key_churn: distinct client keys its network presented over the last
 *   minute (churn.ts) / 20, capped; the client's latest network counts.
 */
export class FeatureTable {
  /** Bytes a client row holds, at most; key churn's rows are per network (ChurnTable.BYTES_PER_NETWORK). */
  static readonly BYTES_PER_CLIENT = LruSlots.BYTES_PER_ROW + 8 * F64_WIDTH + 4 * F32_WIDTH + 4 * U32_WIDTH;

  readonly #slots: LruSlots;
  readonly #churn: ChurnTable;
  readonly #agents = new AgentVerdicts();
  readonly #seed: number;
  // Decay rate per ms, and the least coverage a rate is read with (a client seen for 1 s).
  readonly #k: number;
  readonly #minCoverage: number;
  #f64: Float64Array;
  #f32: Float32Array;
  #u32: Uint32Array;

  constructor(options: FeatureTableOptions = {}) {
    const halfLifeMs = options.halfLifeMs ?? 60_000;
    if (!(halfLifeMs > 0)) throw new RangeError(`halfLifeMs must be positive, got ${halfLifeMs}`);
    this.#k = Math.LN2 / halfLifeMs;
    this.#minCoverage = 1 - Math.exp(-this.#k * MIN_SEEN_MS);
    this.#seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    this.#churn = new ChurnTable(options.maxNetworks);
    this.#slots = new LruSlots(options.maxClients ?? 100_000, (capacity) => {
      this.#f64 = grown(this.#f64, capacity, F64_WIDTH);
      this.#f32 = grown(this.#f32, capacity, F32_WIDTH);
      this.#u32 = grown(this.#u32, capacity, U32_WIDTH);
    });
    const capacity = this.#slots.capacity;
    this.#f64 = new Float64Array(capacity * F64_WIDTH);
    this.#f32 = new Float32Array(capacity * F32_WIDTH);
    this.#u32 = new Uint32Array(capacity * U32_WIDTH);
  }

  get size(): number {
    return this.#slots.size;
  }

  /** O(1): folds one finished request into its client's features (signal.clientKey) and its network's churn counter. */
  observe(signal: RequestSignal): void {
    const at = signal.at;
    const hash = keyHash(signal.clientKey, this.#seed);
    let row = this.#slots.find(hash);
    const fresh = row < 0;
    if (fresh) {
      row = this.#slots.insert(hash);
      this.#reset(row, at);
    } else {
      this.#slots.touch(row);
    }
    const f64 = this.#f64;
    const f32 = this.#f32;
    const u32 = this.#u32;
    const t = row * F64_WIDTH;
    const f = row * F32_WIDTH;
    const u = row * U32_WIDTH;

    // A late report (requests finish out of order) neither rewinds the clock nor decays.
    const elapsed = Math.max(0, at - (f64[t + LAST_AT] as number));
    if (elapsed > 0) {
      const d = Math.exp(-this.#k * elapsed);
      for (let j = f + TOTAL; j <= f + BODY; j++) f32[j] = (f32[j] as number) * d;
      f32[f + COVERAGE] = 1 - (1 - (f32[f + COVERAGE] as number)) * d;
      f64[t + LAST_AT] = at;
    }
    if (!fresh) addGap(f32, f, u32, u, elapsed);

    const status = signal.status;
    const method = signal.method;
    const agent = signal.userAgent;
    f32[f + TOTAL] = (f32[f + TOTAL] as number) + 1;
    if (signal.refused) f32[f + REFUSED] = (f32[f + REFUSED] as number) + 1;
    if (status === 401 || status === 403) f32[f + AUTH_FAIL] = (f32[f + AUTH_FAIL] as number) + 1;
    if (status === 404) f32[f + NOT_FOUND] = (f32[f + NOT_FOUND] as number) + 1;
    if (status >= 500 && status <= 599) f32[f + SERVER_ERROR] = (f32[f + SERVER_ERROR] as number) + 1;
    if (method !== 'GET' && method !== 'HEAD') f32[f + NON_GET] = (f32[f + NON_GET] as number) + 1;
    if (agent === undefined || agent === '') f32[f + NO_AGENT] = (f32[f + NO_AGENT] as number) + 1;
    if (!signal.hasAccept) f32[f + NO_ACCEPT] = (f32[f + NO_ACCEPT] as number) + 1;
    if (!signal.hasAcceptLanguage) f32[f + NO_LANGUAGE] = (f32[f + NO_LANGUAGE] as number) + 1;
    if (this.#agents.isBot(agent)) f32[f + BOT] = (f32[f + BOT] as number) + 1;
    // `> 0` also keeps a NaN length from poisoning the row for good.
    if (signal.bodyBytes > 0) f32[f + BODY] = (f32[f + BODY] as number) + signal.bodyBytes;
    f32[f + LIMIT_RATE] = signal.limitRate;

    // Saturating: a report's count stops at 2^32 - 1 rather than wrapping to 0.
    if ((u32[u + REQUESTS] as number) < MAX_U32) u32[u + REQUESTS] = (u32[u + REQUESTS] as number) + 1;
    if (signal.refused && (u32[u + REFUSALS] as number) < MAX_U32) u32[u + REFUSALS] = (u32[u + REFUSALS] as number) + 1;
    sketchAdd(u32, u + PATHS, at, keyHash(signal.path, this.#seed ^ PATH_SEED) & 63);

    const network = keyHash(signal.network, this.#seed ^ NETWORK_SEED);
    f64[t + NETWORK] = network;
    this.#churn.observe(network, hash, at);
  }

  /** Writes the client's FEATURE_COUNT normalised features ([0,1], FEATURE_NAMES order) into `out` as of `now`; false (out zeroed) when the client is unknown. */
  features(clientKey: string, now: number, out: Float64Array): boolean {
    out.fill(0);
    const row = this.#slots.find(keyHash(clientKey, this.#seed));
    if (row < 0) return false;
    const f64 = this.#f64;
    const f32 = this.#f32;
    const t = row * F64_WIDTH;
    const f = row * F32_WIDTH;
    const u = row * U32_WIDTH;
    const d = Math.exp(-this.#k * Math.max(0, now - (f64[t + LAST_AT] as number)));
    const total = f32[f + TOTAL] as number;

    const limitRate = f32[f + LIMIT_RATE] as number;
    if (limitRate > 0) {
      const coverage = Math.max(this.#minCoverage, 1 - (1 - (f32[f + COVERAGE] as number)) * d);
      const perSecond = (total * d * this.#k * 1000) / coverage;
      out[PRESSURE_AT] = Math.min(1, perSecond / limitRate);
    }
    for (let i = 0; i < SHARES.length; i += 2) {
      out[SHARES[i] as number] = (f32[f + (SHARES[i + 1] as number)] as number) / total;
    }
    out[PATH_SPREAD_AT] = Math.min(1, sketchEstimate(this.#u32, u + PATHS, now) / PATH_SPREAD_FULL);
    out[REGULARITY_AT] = regularity(f32, f, this.#u32[u + GAPS] as number);
    out[BODY_SIZE_AT] = Math.min(1, Math.log10(1 + (f32[f + BODY] as number) / total) / 6);
    out[KEY_CHURN_AT] = Math.min(1, this.#churn.distinctKeys(f64[t + NETWORK] as number, now) / KEY_CHURN_FULL);
    return true;
  }

  /**
   * The features of a client never seen, from the request at hand: its
   * headers and method as shares of one request, and its network's key churn
   * (a stuffer's fresh key is new to the table but its network is not).
   * Nothing else is known yet, so every other feature reads 0.
   */
  firstSight(head: FirstSight, now: number, out: Float64Array): void {
    out.fill(0);
    if (head.method !== 'GET' && head.method !== 'HEAD') out[NON_GET_AT] = 1;
    if (head.userAgent === undefined || head.userAgent === '') out[NO_AGENT_AT] = 1;
    if (!head.hasAccept) out[NO_ACCEPT_AT] = 1;
    if (!head.hasAcceptLanguage) out[NO_LANGUAGE_AT] = 1;
    if (this.#agents.isBot(head.userAgent)) out[BOT_AT] = 1;
    out[KEY_CHURN_AT] = Math.min(1, this.#churn.distinctKeys(keyHash(head.network, this.#seed ^ NETWORK_SEED), now) / KEY_CHURN_FULL);
  }

  /**
   * Counts a request in the client's totals (`counts`) without folding it into
   * its features: one whose answer the features must not see (a block).
   */
  tally(clientKey: string, refused: boolean): void {
    const row = this.#slots.find(keyHash(clientKey, this.#seed));
    if (row < 0) return;
    const u = row * U32_WIDTH;
    if ((this.#u32[u + REQUESTS] as number) < MAX_U32) this.#u32[u + REQUESTS] = (this.#u32[u + REQUESTS] as number) + 1;
    if (refused && (this.#u32[u + REFUSALS] as number) < MAX_U32) this.#u32[u + REFUSALS] = (this.#u32[u + REFUSALS] as number) + 1;
  }

  /** Requests seen from this client since it was (last) remembered, and how many were refused, for reports. */
  counts(clientKey: string): { requests: number; refused: number } | undefined {
    const row = this.#slots.find(keyHash(clientKey, this.#seed));
    if (row < 0) return undefined;
    const u = row * U32_WIDTH;
    return { requests: this.#u32[u + REQUESTS] as number, refused: this.#u32[u + REFUSALS] as number };
  }

  #reset(row: number, at: number): void {
    this.#f64[row * F64_WIDTH + LAST_AT] = at;
    this.#f32.fill(0, row * F32_WIDTH, (row + 1) * F32_WIDTH);
    this.#u32.fill(0, row * U32_WIDTH, (row + 1) * U32_WIDTH);
  }
}
