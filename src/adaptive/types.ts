/**
 * The contract between adaptive protection's parts (issue 17): what the
 * gateway tells the feature table about each finished request, the feature
 * vector a model scores, and what a score says. Every part is pure or owns
 * its state privately; time is always passed in (ms, the store clock's epoch).
 */

/** What the gateway knows of one request once its answer is known. */
export interface RequestSignal {
  /** When the request arrived (ms). */
  readonly at: number;
  readonly method: string;
  /** The canonical path (routing/normalise.ts), without the query. */
  readonly path: string;
  /** The status the client got (429 when a limit refused, 403 when blocked, the upstream's otherwise). */
  readonly status: number;
  /** A limit of the client's own refused it (or would have, in shadow). */
  readonly refused: boolean;
  /** The request body's length (content-length, 0 when none). */
  readonly bodyBytes: number;
  /** The User-Agent header, undefined when absent. */
  readonly userAgent: string | undefined;
  readonly hasAccept: boolean;
  readonly hasAcceptLanguage: boolean;
  /** The client's network: `ip4:a.b.c.0/24` or `ip6:<prefix>/64` (churn is counted per network). */
  readonly network: string;
  /** The client identity the limits count (ClientIdentity.key): what the network's churn counts distinct. */
  readonly clientKey: string;
  /** The client's own limit now in force, requests per second (its first client-scoped limit's rate); 0 when it has none. */
  readonly limitRate: number;
}

/**
 * The features a model scores, each normalised to [0, 1] by the table
 * (features.ts documents each normalisation). The order is the weights
 * file's order: append only, never reorder (a weights file names its
 * feature list and is refused when it differs).
 */
export const FEATURE_NAMES = [
  'pressure', // request rate against the client's limit (rate / limit, capped at 1; 0 with no limit)
  'refused_share', // share of its requests refused by its limits
  'auth_fail_share', // share answered 401 or 403 by the upstream
  'not_found_share', // share answered 404
  'server_error_share', // share answered 5xx
  'path_spread', // distinct paths per minute (a sketch), normalised
  'regularity', // 1 - coefficient of variation of inter-arrival times, clamped: 1 = metronomic
  'non_get_share', // share of methods other than GET/HEAD
  'body_size', // mean request body size, log-scaled
  'no_user_agent', // share of requests without User-Agent
  'no_accept', // share without Accept
  'no_accept_language', // share without Accept-Language
  'bot_agent', // share whose User-Agent isbot() flags
  'key_churn', // distinct client keys its network presented in the last minute, normalised
] as const;

export type FeatureName = (typeof FEATURE_NAMES)[number];
export const FEATURE_COUNT = FEATURE_NAMES.length;

/** One feature's part in a score: its value and its contribution (weight x value, in logits). */
export interface Contribution {
  readonly feature: FeatureName;
  readonly value: number;
  readonly contribution: number;
}

/** A client's risk: 0 (surely benign) to 100 (surely abusive), and the three features that pushed it up most. */
export interface RiskScore {
  readonly score: number;
  readonly top: readonly Contribution[];
}

/** A traffic class of the generator (traffic/), with the label training uses. */
export type TrafficLabel = 'good' | 'bad';
