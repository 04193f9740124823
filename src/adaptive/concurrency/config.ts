import { DURATION_PATTERN, parseDuration } from '../../config/duration.js';
import type { ConfigProblem } from '../../config/problems.js';
import type { GradientOptions } from './gradient.js';

/**
 * A route's `adaptive_concurrency:` key: its schema fragment (config/schema.ts
 * puts it on every route), its raw shape, the rules a schema cannot say, and
 * its resolved form. Absent or false: off. `true`: on with the defaults.
 */

const limit = { type: 'integer', minimum: 1, maximum: 100_000 } as const;
// Its pattern is checked below (checkAdaptiveConcurrency), which says "a duration such as 100ms" where ajv would print the regex.
const duration = { type: 'string' } as const;

export const adaptiveConcurrencySchema = {
  // One type keyword rather than anyOf: a wrong value gets one plain message ("must be boolean,object").
  type: ['boolean', 'object'],
  additionalProperties: false,
  properties: {
    min_limit: limit,
    max_limit: limit,
    initial_limit: limit,
    sample_window: duration,
    min_rtt_interval: duration,
    buffer: { type: 'number', minimum: 0, maximum: 10 },
  },
} as const;

export interface RawAdaptiveConcurrency {
  min_limit?: number;
  max_limit?: number;
  initial_limit?: number;
  sample_window?: string;
  min_rtt_interval?: string;
  buffer?: number;
}

/** The controller's parameters (gradient.ts documents each and where the defaults come from). */
export type AdaptiveConcurrencyConfig = GradientOptions;

export const ADAPTIVE_CONCURRENCY_DEFAULTS = {
  min_limit: 3,
  max_limit: 1000,
  initial_limit: 20,
  sample_window: '100ms',
  min_rtt_interval: '60s',
  buffer: 0.25,
} as const;

/**
 * Durations written as durations; min_limit <= initial_limit <= max_limit
 * (each as configured or defaulted), a sample window of at least 1ms, and a
 * minRTT interval longer than it.
 * Runs whether or not the schema accepted the document, so it reads defensively.
 */
export function checkAdaptiveConcurrency(routes: unknown): ConfigProblem[] {
  if (!Array.isArray(routes)) return [];
  const problems: ConfigProblem[] = [];
  routes.forEach((route: unknown, i) => {
    const raw = (route as { adaptive_concurrency?: unknown } | null)?.adaptive_concurrency;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return;
    const at = `routes[${i}].adaptive_concurrency`;
    const r = raw as Record<string, unknown>;
    const d = ADAPTIVE_CONCURRENCY_DEFAULTS;
    const min = integerOr(r.min_limit, d.min_limit);
    const max = integerOr(r.max_limit, d.max_limit);
    const initial = integerOr(r.initial_limit, d.initial_limit);
    if (min !== undefined && max !== undefined && max < min) problems.push({ path: `${at}.max_limit`, message: `must be at least min_limit (${min})` });
    else if (initial !== undefined && min !== undefined && max !== undefined && (initial < min || initial > max)) {
      problems.push({ path: `${at}.initial_limit`, message: `must be between min_limit (${min}) and max_limit (${max})` });
    }
    const window = durationOr(r.sample_window, d.sample_window);
    const interval = durationOr(r.min_rtt_interval, d.min_rtt_interval);
    for (const field of ['sample_window', 'min_rtt_interval'] as const) {
      if (typeof r[field] === 'string' && durationOr(r[field], '') === undefined) problems.push({ path: `${at}.${field}`, message: DURATION_HINT });
    }
    if (window === 0) problems.push({ path: `${at}.sample_window`, message: 'must be at least 1ms' });
    else if (window !== undefined && interval !== undefined && interval <= window) {
      problems.push({ path: `${at}.min_rtt_interval`, message: `must be longer than sample_window (${window}ms)` });
    }
  });
  return problems;
}

/** The resolved key: null when off. */
export function buildAdaptiveConcurrency(raw: boolean | RawAdaptiveConcurrency | undefined): AdaptiveConcurrencyConfig | null {
  if (raw === undefined || raw === false) return null;
  const r = raw === true ? {} : raw;
  const d = ADAPTIVE_CONCURRENCY_DEFAULTS;
  return {
    minLimit: r.min_limit ?? d.min_limit,
    maxLimit: r.max_limit ?? d.max_limit,
    initialLimit: r.initial_limit ?? d.initial_limit,
    sampleWindowMs: parseDuration(r.sample_window ?? d.sample_window),
    minRttIntervalMs: parseDuration(r.min_rtt_interval ?? d.min_rtt_interval),
    buffer: r.buffer ?? d.buffer,
  };
}

const DURATION_HINT = 'must be a duration such as 500ms, 10s, 1m, 1h or 1d';
const DURATION = new RegExp(DURATION_PATTERN);

function integerOr(value: unknown, fallback: number): number | undefined {
  if (value === undefined) return fallback;
  return Number.isInteger(value) ? (value as number) : undefined;
}

function durationOr(value: unknown, fallback: string): number | undefined {
  const text = value === undefined ? fallback : value;
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined;
  return parseDuration(text);
}
