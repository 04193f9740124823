import type { AlgorithmName, LimitScope, LimitSpec } from '../limit/algorithms/types.js';
import type { LimitCheck, LimitOutcome, LimitStep } from '../limit/stores/store.js';

/**
 * The store protocol between a worker (IpcStore) and the primary
 * (serveStore). Every message carries `tg: 'store'`: the same IPC channel
 * also carries prom-client's and the gateway's own messages.
 *
 * Messages stay small and JSON-safe (node:cluster serialises IPC as JSON by
 * default): checks and outcomes are flat arrays, and a limit travels as a
 * number (its ref) once its definition has been sent on that channel. A
 * definition rides on the first message that needs it, or an earlier one;
 * the channel is ordered, so the primary always knows a ref before its use.
 */

/** A limit's definition: the worker's ref for it, then every field of its LimitSpec. */
export type SpecDef = [ref: number, id: string, algorithm: AlgorithmName, scope: LimitScope, rate: number, capacity: number, windowMs: number, mode: LimitSpec['mode'], leaseMs: number];

/** One check: its group, cost, 1 for a dry run, its limits by ref and their scope keys (in order), and 1 when the worker asks for a grant (grants.ts). */
export type WireCheck = [group: string, cost: number, dry: 0 | 1, refs: number[], keys: readonly string[], grant?: 1];

/**
 * One outcome: allowed (0/1), reason (REASONS index), lease id (0: holds no
 * slot), then per step allowed (0/1), remaining, resetMs, retryAfterMs. A
 * non-finite number arrives as null through JSON: only Infinity can be one.
 */
export type WireOutcome = (number | null)[];

interface Tagged {
  readonly tg: 'store';
}

/**
 * Worker -> primary: a batch of checks, answered by one `checked`; first,
 * `release`: leases given back, and `returns`: grants ended, as
 * [grant id, unspent requests] pairs.
 */
export interface CheckMessage extends Tagged {
  readonly t: 'check';
  readonly id: number;
  readonly defs?: SpecDef[];
  readonly checks: WireCheck[];
  readonly release?: number[];
  readonly returns?: number[];
}

/** Worker -> primary: whether state is held for a check (LimitStore.holds), answered by one `held`. */
export interface HoldsMessage extends Tagged {
  readonly t: 'holds';
  readonly id: number;
  readonly defs?: SpecDef[];
  readonly check: WireCheck;
}

/** Worker -> primary: leases whose requests ended, grants ended ([id, unspent] pairs); no answer. */
export interface ReleaseMessage extends Tagged {
  readonly t: 'release';
  readonly release?: number[];
  readonly returns?: number[];
}

/** Primary -> worker: one outcome per check of message `id`, in order; `grants`: [check index, grant id, requests] triples. */
export interface CheckedMessage extends Tagged {
  readonly t: 'checked';
  readonly id: number;
  readonly results: WireOutcome[];
  readonly grants?: number[];
}

/** Primary -> worker: the answer to holds message `id`. */
export interface HeldMessage extends Tagged {
  readonly t: 'held';
  readonly id: number;
  readonly held: boolean;
}

export type WorkerMessage = CheckMessage | HoldsMessage | ReleaseMessage;
export type PrimaryMessage = CheckedMessage | HeldMessage;

export const TAG = 'store';

export function isStoreMessage(message: unknown): message is WorkerMessage | PrimaryMessage {
  return typeof message === 'object' && message !== null && (message as { tg?: unknown }).tg === TAG;
}

// Index = reason code on the wire; append only.
const REASONS = [undefined, 'capacity', 'store_unavailable'] as const;

/** What a store that cannot be asked answers for each limit (as on_error: closed does on Redis). */
export const CLOSED_STEP: LimitStep = { allowed: false, remaining: 0, resetMs: 0, retryAfterMs: 1000 };

export function unavailable(limits: number): LimitOutcome {
  return { allowed: false, steps: new Array<LimitStep>(limits).fill(CLOSED_STEP), reason: 'store_unavailable' };
}

export function specDef(ref: number, s: LimitSpec): SpecDef {
  return [ref, s.id, s.algorithm, s.scope, s.rate, s.capacity, s.windowMs, s.mode, s.leaseMs];
}

/** A string equal for two specs exactly when every field is: what both ends intern by. */
export function specContent(def: SpecDef): string {
  return JSON.stringify(def.slice(1));
}

export function specOf(def: SpecDef): LimitSpec {
  const [, id, algorithm, scope, rate, capacity, windowMs, mode, leaseMs] = def;
  return { id, algorithm, scope, rate: orInfinity(rate), capacity: orInfinity(capacity), windowMs: orInfinity(windowMs), mode, leaseMs: orInfinity(leaseMs) };
}

export function encodeCheck(check: LimitCheck, refs: number[], dry: boolean, grant = false): WireCheck {
  return grant ? [check.group, check.cost, dry ? 1 : 0, refs, check.keys, 1] : [check.group, check.cost, dry ? 1 : 0, refs, check.keys];
}

/** The check, its limits resolved by `specOf`; undefined if a ref is unknown (a protocol bug, answered as unavailable). */
export function decodeCheck(wire: WireCheck, specOfRef: (ref: number) => LimitSpec | undefined): { check: LimitCheck; dry: boolean } | undefined {
  const [group, cost, dry, refs, keys] = wire;
  const limits: LimitSpec[] = [];
  for (const ref of refs) {
    const spec = specOfRef(ref);
    if (spec === undefined) return undefined;
    limits.push(spec);
  }
  if (keys.length !== limits.length) return undefined;
  return { check: { group, limits, keys, cost }, dry: dry === 1 };
}

export function encodeOutcome(outcome: LimitOutcome, lease: number): WireOutcome {
  const wire: WireOutcome = [outcome.allowed ? 1 : 0, REASONS.indexOf(outcome.reason), lease];
  for (const s of outcome.steps) wire.push(s.allowed ? 1 : 0, s.remaining, s.resetMs, s.retryAfterMs);
  return wire;
}

/** The outcome without `release` (the worker attaches its own), and its lease id (0: none). */
export function decodeOutcome(wire: WireOutcome): { outcome: LimitOutcome; lease: number } {
  const steps: LimitStep[] = [];
  for (let i = 3; i + 3 < wire.length; i += 4) {
    steps.push({ allowed: wire[i] === 1, remaining: orInfinity(wire[i + 1]), resetMs: orInfinity(wire[i + 2]), retryAfterMs: orInfinity(wire[i + 3]) });
  }
  const reason = REASONS[wire[1] ?? 0];
  const outcome: LimitOutcome = reason === undefined ? { allowed: wire[0] === 1, steps } : { allowed: wire[0] === 1, steps, reason };
  return { outcome, lease: wire[2] ?? 0 };
}

// JSON turns Infinity into null; every number here is >= 0, so null can only have been Infinity.
const orInfinity = (n: number | null | undefined): number => (typeof n === 'number' ? n : Infinity);
