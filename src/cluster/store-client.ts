import type { LimitSpec } from '../limit/algorithms/types.js';
import { OverLimitCache } from '../limit/stores/over-limit-cache.js';
import { monotonicClock, type CheckOptions, type Clock, type LimitCheck, type LimitOutcome, type LimitStep, type LimitStore, type StoreHealth } from '../limit/stores/store.js';
import type { Channel } from './channel.js';
import { Allowances, signatureOf } from './allowances.js';
import { GRANT_MS } from './grants.js';
import {
  TAG,
  decodeOutcome,
  encodeCheck,
  isStoreMessage,
  specContent,
  specDef,
  unavailable,
  type CheckMessage,
  type ReleaseMessage,
  type SpecDef,
  type WireCheck,
  type WireOutcome,
  type WorkerMessage,
} from './store-protocol.js';

export interface IpcStoreOptions {
  /** Local time, for the over-limit cache only: the primary decides on its own clock. */
  clock?: Clock;
  /** A check refused from the local cache, without asking the primary (a metric). */
  onLocalDenial?: () => void;
}

interface Waiter {
  readonly check: LimitCheck;
  readonly now: number;
  readonly dry: boolean;
  /** The check's signature for grants; '' for a dry run. */
  readonly signature: string;
  /** This check asked for a grant. */
  readonly asked: boolean;
  resolve(outcome: LimitOutcome): void;
}

type Pending = { readonly waiters: Waiter[] } | { readonly holds: (held: boolean) => void };

// A message never carries more checks than this; a fuller turn sends several.
const MAX_BATCH = 256;

/**
 * A worker's store: every decision is the primary's, on the one MemoryStore
 * all workers share (store-server.ts), so N workers enforce each limit once,
 * not N times. Checks asked in one event-loop turn go as one message, sent
 * from setImmediate after the poll phase that asked them, and come back as
 * one message.
 *
 * Refusals are remembered in an OverLimitCache until the instant the primary
 * said the same request would pass; until then the worker refuses locally,
 * which is exact (only time brings tokens back), so a flood from one client
 * costs the primary one message per refill. The cache keeps the primary's
 * relative waits measured from this worker's instant of asking, earlier than
 * the primary's deciding instant, so no clock skew between processes can
 * make it refuse past that instant.
 *
 * A busy client far from its limit is admitted from grants (grants.ts,
 * allowances.ts): units of its bucket the primary took out for this worker,
 * spent here without a message until they run out or GRANT_MS has passed.
 *
 * When the channel is gone (the primary died) every check, pending or new,
 * is refused as `store_unavailable`: nothing hangs, nothing is admitted
 * unlimited.
 */
export class IpcStore implements LimitStore {
  readonly #channel: Channel;
  readonly #clock: Clock;
  readonly #onLocalDenial: (() => void) | undefined;
  readonly #cache = new OverLimitCache();
  readonly #allowances = new Allowances();
  #expiry: NodeJS.Timeout | undefined;
  // Refs by identity, then by content: a reload's new spec objects for unchanged limits reuse the old refs.
  readonly #refs = new WeakMap<LimitSpec, number>();
  readonly #refsByContent = new Map<string, number>();
  #defs: SpecDef[] = [];
  #checks: WireCheck[] = [];
  #waiters: Waiter[] = [];
  #releases: number[] = [];
  #scheduled = false;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #open = true;
  readonly #unsubscribe: () => void;

  constructor(channel: Channel, options: IpcStoreOptions = {}) {
    this.#channel = channel;
    this.#clock = options.clock ?? monotonicClock;
    this.#onLocalDenial = options.onLocalDenial;
    this.#unsubscribe = channel.onMessage((message) => this.#receive(message));
    channel.onClose(() => this.#shut());
  }

  /** A promise, except for answers known locally (a remembered refusal, a closed channel): as redis.ts, a flood costs no promise. */
  check(check: LimitCheck, options?: CheckOptions): LimitOutcome | Promise<LimitOutcome> {
    const n = check.limits.length;
    if (!this.#open) return unavailable(n);
    if (n === 0) return { allowed: true, steps: [] };
    const dry = options?.dryRun === true;
    const now = this.#clock();
    // A dry run is the primary's peek: never answered from the cache, which only knows refusals.
    const refused = dry || this.#cache.size === 0 ? undefined : this.#cachedRefusal(check, now);
    if (refused !== undefined) {
      this.#onLocalDenial?.();
      return refused;
    }
    const refs = this.#refsOf(check.limits);
    const signature = dry ? '' : signatureOf(check, refs);
    // A busy client's grant answers here: no message, no promise (grants.ts).
    const granted = dry ? undefined : this.#allowances.spend(signature, check, now);
    if (this.#allowances.returning) this.#schedule();
    if (granted !== undefined) return granted;
    const asked = !dry && this.#allowances.wants(signature, now);
    return new Promise<LimitOutcome>((resolve) => {
      this.#checks.push(encodeCheck(check, refs, dry, asked));
      this.#waiters.push({ check, now, dry, signature, asked, resolve });
      if (this.#checks.length >= MAX_BATCH) this.#flush();
      else this.#schedule();
    });
  }

  /** Asked at once, not batched: the admin API's rare question. */
  holds(check: LimitCheck): Promise<boolean> {
    if (!this.#open) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const id = this.#nextId++;
      this.#pending.set(id, { holds: resolve });
      const wire = encodeCheck(check, this.#refsOf(check.limits), false);
      this.#send({ tg: TAG, t: 'holds', id, defs: this.#takeDefs(), check: wire });
    });
  }

  /** The primary's gauge counts the shared states, once for all workers. */
  size(): number {
    return 0;
  }

  health(): StoreHealth {
    return this.#open ? 'ok' : 'down';
  }

  async close(): Promise<void> {
    this.#shut();
  }

  #refsOf(limits: readonly LimitSpec[]): number[] {
    return limits.map((spec) => {
      let ref = this.#refs.get(spec);
      if (ref !== undefined) return ref;
      const def = specDef(this.#refsByContent.size + 1, spec);
      const content = specContent(def);
      ref = this.#refsByContent.get(content);
      if (ref === undefined) {
        ref = def[0];
        this.#refsByContent.set(content, ref);
        this.#defs.push(def);
      }
      this.#refs.set(spec, ref);
      return ref;
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (!this.#open) return;
    const release = this.#releases.length > 0 ? this.#releases : undefined;
    this.#releases = [];
    const returns = this.#allowances.takeReturns();
    if (this.#checks.length > 0) {
      const id = this.#nextId++;
      this.#pending.set(id, { waiters: this.#waiters });
      const message: CheckMessage = { tg: TAG, t: 'check', id, defs: this.#takeDefs(), checks: this.#checks, release, returns };
      this.#checks = [];
      this.#waiters = [];
      this.#send(message);
    } else if (release !== undefined || returns !== undefined) this.#send({ tg: TAG, t: 'release', release, returns } satisfies ReleaseMessage);
  };

  /** While grants are held: every GRANT_MS, those past their time are given back. */
  #watchGrants(): void {
    if (this.#expiry !== undefined) return;
    this.#expiry = setInterval(() => {
      if (this.#allowances.expire(this.#clock())) this.#schedule();
      if (this.#allowances.size === 0) {
        clearInterval(this.#expiry);
        this.#expiry = undefined;
      }
    }, GRANT_MS).unref();
  }

  /** The definitions not yet sent: they ride on the next check or holds message, which precedes any use of their refs. */
  #takeDefs(): SpecDef[] | undefined {
    if (this.#defs.length === 0) return undefined;
    const defs = this.#defs;
    this.#defs = [];
    return defs;
  }

  #send(message: WorkerMessage): void {
    try {
      this.#channel.send(message);
    } catch {
      this.#shut();
    }
  }

  #receive(message: unknown): void {
    if (!isStoreMessage(message) || (message.t !== 'checked' && message.t !== 'held')) return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    if (message.t === 'held' && 'holds' in pending) pending.holds(message.held);
    else if (message.t === 'checked' && 'waiters' in pending) {
      const grants = message.grants;
      let g = 0;
      pending.waiters.forEach((w, i) => {
        const grant = grants !== undefined && grants[g] === i ? ([grants[g + 1], grants[g + 2]] as [number, number]) : undefined;
        if (grant !== undefined) g += 3;
        w.resolve(this.#outcome(w, message.results[i] ?? [], grant));
      });
    }
  }

  #outcome(waiter: Waiter, wire: WireOutcome, grant: [number, number] | undefined): LimitOutcome {
    const { check, now, dry } = waiter;
    const { outcome, lease } = decodeOutcome(wire);
    if (outcome.steps.length !== check.limits.length) {
      // Never the case but for a protocol bug; a grant with it is given back whole.
      if (waiter.asked) this.#allowances.answered(waiter.signature, check, outcome, undefined, now);
      if (grant !== undefined) {
        this.#allowances.giveBackWhole(grant);
        this.#schedule();
      }
      return unavailable(check.limits.length);
    }
    if (!dry && outcome.allowed) this.#allowances.allowed(waiter.signature, now);
    if (waiter.asked) {
      this.#allowances.answered(waiter.signature, check, outcome, grant, now);
      if (grant !== undefined) this.#watchGrants();
    } else if (grant !== undefined) {
      // Not asked for (the primary grants only when asked): not spent, so not held out for nothing.
      this.#allowances.giveBackWhole(grant);
      this.#schedule();
    }
    // Only the limits' own refusals: a capacity or unavailable answer says nothing about when this request would pass.
    if (!outcome.allowed && !dry && outcome.reason === undefined) {
      check.limits.forEach((spec, i) => {
        const step = outcome.steps[i] as LimitStep;
        if (!step.allowed && spec.mode === 'enforce' && spec.algorithm !== 'concurrency') this.#cache.remember(cacheKey(spec, check.keys[i] as string), spec, check.cost, now, step);
      });
    }
    return lease === 0 ? outcome : { ...outcome, release: this.#releaser(lease) };
  }

  /** As redis.ts: the cached limits' steps as the primary last gave them; the others are not asked and report full. */
  #cachedRefusal(check: LimitCheck, now: number): LimitOutcome | undefined {
    const { limits, keys, cost } = check;
    let steps: LimitStep[] | undefined;
    for (let i = 0; i < limits.length; i++) {
      const spec = limits[i] as LimitSpec;
      if (spec.mode !== 'enforce' || spec.algorithm === 'concurrency') continue;
      const step = this.#cache.get(cacheKey(spec, keys[i] as string), spec, cost, now);
      if (step === undefined) continue;
      steps ??= limits.map((s) => ({ allowed: true, remaining: s.capacity, resetMs: 0, retryAfterMs: 0 }));
      steps[i] = step;
    }
    return steps === undefined ? undefined : { allowed: false, steps };
  }

  /** Idempotent; batched per turn with the checks. After close the primary has given every lease back itself. */
  #releaser(lease: number): () => void {
    let released = false;
    return () => {
      if (released || !this.#open) return;
      released = true;
      this.#releases.push(lease);
      this.#schedule();
    };
  }

  #shut(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#unsubscribe();
    this.#cache.clear();
    this.#allowances.clear();
    if (this.#expiry !== undefined) clearInterval(this.#expiry);
    this.#expiry = undefined;
    const waiters = this.#waiters;
    this.#checks = [];
    this.#waiters = [];
    this.#releases = [];
    for (const w of waiters) w.resolve(unavailable(w.check.limits.length));
    for (const pending of this.#pending.values()) {
      if ('holds' in pending) pending.holds(false);
      else for (const w of pending.waiters) w.resolve(unavailable(w.check.limits.length));
    }
    this.#pending.clear();
  }
}

const cacheKey = (spec: LimitSpec, key: string): string => `${spec.id}\u0000${spec.algorithm}\u0000${key}`;
