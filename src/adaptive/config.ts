import { DURATION_PATTERN, parseDuration } from '../config/duration.js';
import type { ConfigProblem } from '../config/problems.js';

/**
 * The `adaptive:` block: its schema fragment (config/schema.ts closes the
 * top level over it), its raw shape, the rules a schema cannot say, and its
 * resolved form. Absent block: adaptive protection is off (scoring costs CPU
 * on every request, so it is opted into, then runs in shadow by default).
 */

import type { BandName } from './bands.js';

export type { BandName };

const score = { type: 'number', exclusiveMinimum: 0, maximum: 100 } as const;
const factor = { type: 'number', exclusiveMinimum: 0, maximum: 1000 } as const;
const band = { type: 'object', additionalProperties: false, required: ['below'], properties: { below: score, limit_factor: factor } } as const;

export const adaptiveSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { enum: ['shadow', 'enforce'] },
    learn: { type: 'boolean' },
    bands: {
      type: 'object',
      additionalProperties: false,
      properties: {
        trusted: band,
        normal: band,
        suspicious: band,
        blocked: { type: 'object', additionalProperties: false, properties: { block_for: { type: 'string', pattern: DURATION_PATTERN } } },
      },
    },
    // Clients whose features are kept (each at most 256 bytes); the least recently seen is forgotten first.
    max_clients: { type: 'integer', minimum: 100, maximum: 10_000_000 },
    // Where learned weights are kept across restarts on the memory store (on Redis they live in Redis); relative to the config file.
    weights_file: { type: 'string', minLength: 1 },
    // Failed logins in a row (401/403 from a route marked login: true) that label the client bad; 0: never.
    failed_logins: { type: 'integer', minimum: 0, maximum: 1000 },
  },
} as const;

export interface RawAdaptive {
  mode?: 'shadow' | 'enforce';
  learn?: boolean;
  bands?: Partial<Record<'trusted' | 'normal' | 'suspicious', { below: number; limit_factor?: number }>> & { blocked?: { block_for?: string } };
  max_clients?: number;
  weights_file?: string;
  failed_logins?: number;
}

/** One band as the request path uses it: scores below `below` (and at or above the previous band's) are in it. */
export interface BandConfig {
  readonly name: BandName;
  readonly below: number;
  /** Multiplies the client's own limits (rate and burst, or a window's limit); 1 leaves them. */
  readonly limitFactor: number;
}

export interface AdaptiveConfig {
  readonly mode: 'shadow' | 'enforce';
  readonly learn: boolean;
  /** trusted, normal, suspicious, blocked: increasing `below`, the last Infinity. */
  readonly bands: readonly BandConfig[];
  /** How long a client that reaches `blocked` is refused 403. */
  readonly blockForMs: number;
  readonly maxClients: number;
  /**
   * The file learned weights are saved to and restored from (weights-file.ts),
   * as written: relative paths are resolved against the config file's
   * directory when the engine is created. Used on the memory store only (on
   * Redis, weights are shared there). null: learning is lost on restart.
   * Read once, when the engine is created: a reload that changes it takes
   * effect at the next restart.
   */
  readonly weightsFile: string | null;
  /**
   * A weak label from outcomes: this many failed logins in a row (401 or
   * 403 from a route with `login: true`) label the client `bad`, source
   * `outcome`, as if an operator had; 0 turns it off.
   */
  readonly failedLogins: number;
}

export const ADAPTIVE_DEFAULTS = {
  mode: 'shadow',
  learn: true,
  bands: { trusted: { below: 20, limit_factor: 2 }, normal: { below: 60, limit_factor: 1 }, suspicious: { below: 85, limit_factor: 0.25 } },
  block_for: '10m',
  max_clients: 100_000,
  failed_logins: 5,
} as const;

/** Bands must be increasing: trusted below normal below suspicious (each as configured or defaulted). */
export function checkAdaptive(raw: unknown): ConfigProblem[] {
  if (raw === null || typeof raw !== 'object') return [];
  const bands = (raw as RawAdaptive).bands ?? {};
  const bounds = (['trusted', 'normal', 'suspicious'] as const).map((name) => ({ name, below: bands[name]?.below ?? ADAPTIVE_DEFAULTS.bands[name].below }));
  const problems: ConfigProblem[] = [];
  for (let i = 1; i < bounds.length; i++) {
    const { name, below } = bounds[i] as { name: string; below: number };
    const prev = bounds[i - 1] as { name: string; below: number };
    if (typeof below === 'number' && typeof prev.below === 'number' && below <= prev.below) {
      problems.push({ path: `adaptive.bands.${name}.below`, message: `must be above adaptive.bands.${prev.name}.below (${prev.below}): bands must be increasing` });
    }
  }
  return problems;
}

export function buildAdaptive(raw: RawAdaptive | undefined): AdaptiveConfig | null {
  if (raw === undefined) return null;
  const d = ADAPTIVE_DEFAULTS;
  const b = raw.bands ?? {};
  const bandOf = (name: 'trusted' | 'normal' | 'suspicious'): BandConfig => ({
    name,
    below: b[name]?.below ?? d.bands[name].below,
    limitFactor: b[name]?.limit_factor ?? d.bands[name].limit_factor,
  });
  return {
    mode: raw.mode ?? d.mode,
    learn: raw.learn ?? d.learn,
    bands: [bandOf('trusted'), bandOf('normal'), bandOf('suspicious'), { name: 'blocked', below: Infinity, limitFactor: 0 }],
    blockForMs: parseDuration(b.blocked?.block_for ?? d.block_for),
    maxClients: raw.max_clients ?? d.max_clients,
    weightsFile: raw.weights_file ?? null,
    failedLogins: raw.failed_logins ?? d.failed_logins,
  };
}
