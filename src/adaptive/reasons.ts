/**
 * The stable catalogue of risk reason codes: one per feature, named in every
 * non-allow decision (logs, /v1/explain, the access line) so an operator can
 * search for one reason or write an exception for it, as with Cloudflare's
 * detection IDs. Codes are an API: never rename or reuse one; a new feature
 * gets a new code.
 */
import { FEATURE_NAMES, type Contribution, type FeatureName } from './types.js';

export interface Reason {
  readonly code: string;
  readonly description: string;
}

export const REASONS: Readonly<Record<FeatureName, Reason>> = Object.freeze({
  pressure: { code: 'TG_RISK_PRESSURE', description: 'request rate close to or above the client limit' },
  refused_share: { code: 'TG_RISK_REFUSALS', description: 'many of its requests were refused by its limits' },
  auth_fail_share: { code: 'TG_RISK_AUTH_FAILURES', description: 'many 401/403 answers from the upstream (credential stuffing, probing)' },
  not_found_share: { code: 'TG_RISK_NOT_FOUND_SCAN', description: 'many 404 answers (scanning for paths)' },
  server_error_share: { code: 'TG_RISK_SERVER_ERRORS', description: 'its requests cause many 5xx answers upstream' },
  path_spread: { code: 'TG_RISK_PATH_WALK', description: 'many distinct paths per minute (walking ids, crawling)' },
  regularity: { code: 'TG_RISK_METRONOMIC', description: 'requests at machine-regular intervals' },
  non_get_share: { code: 'TG_RISK_WRITE_HEAVY', description: 'unusually many non-GET/HEAD requests' },
  body_size: { code: 'TG_RISK_LARGE_BODIES', description: 'large request bodies' },
  no_user_agent: { code: 'TG_RISK_NO_USER_AGENT', description: 'requests without a User-Agent header' },
  no_accept: { code: 'TG_RISK_NO_ACCEPT', description: 'requests without an Accept header' },
  no_accept_language: { code: 'TG_RISK_HEADLESS', description: 'requests without Accept-Language, which browsers always send' },
  bot_agent: { code: 'TG_RISK_BOT_AGENT', description: 'a User-Agent known to belong to automation (isbot; one signal, not a verdict)' },
  key_churn: { code: 'TG_RISK_KEY_ROTATION', description: 'its network presents many distinct client keys per minute (rotating keys)' },
});

/** The code given when no feature pushed the score up (the bias alone put it in its band). */
export const GENERIC_REASON: Reason = Object.freeze({ code: 'TG_RISK_SCORE', description: 'risk score high with no single contributing feature' });

/** Every code in the catalogue, feature codes in feature order then the generic one (for config validation of exceptions). */
export const REASON_CODES: readonly string[] = Object.freeze([...FEATURE_NAMES.map((f) => REASONS[f].code), GENERIC_REASON.code]);

/** The reason code of a decision: the code of its largest contribution, or the generic code when there is none. */
export function reasonOf(top: readonly Contribution[]): string {
  const first = top[0];
  return first ? REASONS[first.feature].code : GENERIC_REASON.code;
}
