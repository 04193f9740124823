import type { LimitSpec } from '../limit/algorithms/types.js';
import { monotonicClock, type Clock, type LimitCheck, type LimitOutcome, type LimitStore } from '../limit/stores/store.js';
import { GrantBook, canHold } from './grants.js';
import type { Channel } from './channel.js';
import {
  TAG,
  decodeCheck,
  encodeOutcome,
  isStoreMessage,
  specContent,
  specOf,
  unavailable,
  type CheckMessage,
  type HoldsMessage,
  type SpecDef,
  type WireCheck,
  type WireOutcome,
} from './store-protocol.js';

// One spec object per limit content per store, shared by every worker: MemoryStore
// compares a limit's spec by identity first, so equal limits must arrive as the same object.
const interned = new WeakMap<LimitStore, Map<string, LimitSpec>>();

/**
 * The primary's side of the store protocol for one worker: decides that
 * worker's checks on the one `store` every worker shares, so limits stay
 * exact across processes. Each request message gets one answer message.
 *
 * A check that asks for a grant (grants.ts) and is allowed may come back with
 * one: units taken out of its buckets for that worker to spend alone, held
 * out of the refill until it gives back what it did not spend.
 *
 * Concurrency slots handed out are kept here by lease id until the worker
 * releases them; `close()` (the worker died, or its channel closed, which
 * calls it too) gives back every slot it still held, so a crash loses none.
 */
export function serveStore(store: LimitStore, channel: Channel, clock: Clock = monotonicClock): { close(): void } {
  let specs = interned.get(store);
  if (specs === undefined) interned.set(store, (specs = new Map()));
  const shared = specs;
  // This worker's refs (store-protocol.ts); a worker sends one def per distinct limit, so this grows only with the config.
  const refs = new Map<number, LimitSpec>();
  const leases = new Map<number, () => void>();
  let nextLease = 1;
  let closed = false;
  // The grants this worker holds (grants.ts): only a store that can hold units out (memory) gives any.
  const grants = canHold(store) ? new GrantBook(store, clock) : undefined;

  const define = (defs: SpecDef[] | undefined): void => {
    for (const def of defs ?? []) {
      const content = specContent(def);
      let spec = shared.get(content);
      if (spec === undefined) shared.set(content, (spec = specOf(def)));
      refs.set(def[0], spec);
    }
  };

  const release = (ids: readonly number[] | undefined): void => {
    for (const id of ids ?? []) {
      const give = leases.get(id);
      leases.delete(id); // a second release of the same lease finds nothing
      give?.();
    }
  };

  // A lease outlives nothing: one decided after this worker is gone is given back at once.
  const lease = (outcome: LimitOutcome): number => {
    if (outcome.release === undefined) return 0;
    if (closed) {
      outcome.release();
      return 0;
    }
    const id = nextLease++;
    leases.set(id, outcome.release);
    return id;
  };

  const giveBack = (returns: readonly number[] | undefined): void => {
    if (returns === undefined || grants === undefined) return;
    for (let i = 0; i + 1 < returns.length; i += 2) grants.giveBack(returns[i] as number, returns[i + 1] as number);
  };

  const decide = (wire: WireCheck, index: number, offered: number[]): LimitOutcome | Promise<LimitOutcome> => {
    const decoded = decodeCheck(wire, (ref) => refs.get(ref));
    if (decoded === undefined) return unavailable(wire[3].length);
    const { check, dry } = decoded;
    try {
      const answer = store.check(check, dry ? { dryRun: true } : undefined);
      if (answer instanceof Promise) return answer.catch(() => unavailable(check.limits.length));
      if (wire[5] === 1 && !dry && answer.allowed && answer.reason === undefined) offer(check, answer, index, offered);
      return answer;
    } catch {
      return unavailable(check.limits.length);
    }
  };

  const offer = (check: LimitCheck, outcome: LimitOutcome, index: number, offered: number[]): void => {
    if (grants === undefined || closed) return;
    const grant = grants.offer(check, outcome);
    if (grant !== undefined) offered.push(index, grant[0], grant[1]);
  };

  const answerChecks = (m: CheckMessage): void => {
    define(m.defs);
    release(m.release);
    giveBack(m.returns);
    const offered: number[] = [];
    const answers = m.checks.map((wire, i) => decide(wire, i, offered));
    const reply = (outcomes: LimitOutcome[]): void => {
      const results: WireOutcome[] = outcomes.map((o) => encodeOutcome(o, lease(o)));
      if (!closed) channel.send(offered.length > 0 ? { tg: TAG, t: 'checked', id: m.id, results, grants: offered } : { tg: TAG, t: 'checked', id: m.id, results });
    };
    // The memory store answers synchronously: reply in the same turn, no promise.
    if (answers.some((a) => a instanceof Promise)) void Promise.all(answers).then(reply);
    else reply(answers as LimitOutcome[]);
  };

  const answerHolds = (m: HoldsMessage): void => {
    define(m.defs);
    const decoded = decodeCheck(m.check, (ref) => refs.get(ref));
    const reply = (held: boolean): void => {
      if (!closed) channel.send({ tg: TAG, t: 'held', id: m.id, held });
    };
    if (decoded === undefined) return reply(false);
    try {
      const held = store.holds(decoded.check);
      if (held instanceof Promise) held.then(reply, () => reply(false));
      else reply(held);
    } catch {
      reply(false);
    }
  };

  const unsubscribe = channel.onMessage((message) => {
    if (closed || !isStoreMessage(message)) return;
    if (message.t === 'check') answerChecks(message);
    else if (message.t === 'holds') answerHolds(message);
    else if (message.t === 'release') {
      release(message.release);
      giveBack(message.returns);
    }
  });

  const close = (): void => {
    if (closed) return;
    closed = true;
    unsubscribe();
    const held = [...leases.values()];
    leases.clear();
    refs.clear();
    for (const give of held) give();
    grants?.close();
  };
  channel.onClose(close);
  return { close };
}
