import type { Clock, LimitOutcome } from './stores/store.js';

/** One request held by `on_limit: { delay_up_to }`. */
export interface QueuedRequest {
  /** Asks the store again. */
  attempt(): LimitOutcome | Promise<LimitOutcome>;
  /**
   * Ms until a refused outcome's request could pass, with `unitsAhead` units
   * (the costs of the requests queued before it) to be spent first. Never
   * more than the real wait while those stay queued, so refusing on it never
   * refuses a request that would have passed in time.
   */
  waitOf(outcome: LimitOutcome, unitsAhead: number): number;
  /** Units this request takes from each limit (the route's cost). */
  readonly cost: number;
  /** Clock instant after which the request is refused rather than held longer. */
  readonly deadline: number;
  /** Called once with the last outcome: allowed (go on) or refused (429). Never after cancel(). */
  finish(outcome: LimitOutcome): void;
}

interface Entry {
  readonly request: QueuedRequest;
  last: LimitOutcome;
  cancelled: boolean;
  /** Set while the head waits for its instant; cleared when its attempt starts. */
  timer: NodeJS.Timeout | undefined;
}

/**
 * Holds refused requests until their limits let them through, as nginx's
 * limit_req does without `nodelay`: one FIFO per client and limit set, of at
 * most `maxQueue` requests. Only the head waits on a timer, set to the exact
 * instant its limits said it could pass; when it goes through, the next one
 * asks at once. A request whose wait would pass its deadline is refused
 * (429) then, not at the deadline: nothing waits only to be refused. A client
 * that disconnects leaves the queue (cancel).
 */
export class DelayQueues {
  readonly #queues = new Map<string, Entry[]>();
  readonly #clock: Clock;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Queues `request`, first refused with `outcome`; returns its cancel function, or undefined when the queue is full or the wait too long. */
  enqueue(key: string, maxQueue: number, outcome: LimitOutcome, request: QueuedRequest): (() => void) | undefined {
    let queue = this.#queues.get(key);
    if (queue !== undefined && queue.length >= maxQueue) return undefined;
    // Its turn comes after everyone queued ahead has passed, not when its own limits would allow it alone.
    let ahead = 0;
    for (const e of queue ?? []) ahead += e.request.cost;
    const wait = request.waitOf(outcome, ahead);
    if (this.#clock() + wait > request.deadline) return undefined;
    if (queue === undefined) this.#queues.set(key, (queue = []));
    const entry: Entry = { request, last: outcome, cancelled: false, timer: undefined };
    queue.push(entry);
    if (queue.length === 1) this.#wake(key, queue, wait);
    return () => this.#cancel(key, entry);
  }

  /** Requests held now, across clients. */
  get size(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  #wake(key: string, queue: Entry[], waitMs: number): void {
    const head = queue[0] as Entry;
    head.timer = setTimeout(() => this.#try(key, queue, head), Math.max(0, Math.ceil(waitMs)));
  }

  #try(key: string, queue: Entry[], head: Entry): void {
    head.timer = undefined;
    let outcome: LimitOutcome | Promise<LimitOutcome>;
    try {
      outcome = head.request.attempt();
    } catch {
      outcome = head.last;
    }
    if (outcome instanceof Promise) outcome.then((o) => this.#settle(key, queue, head, o), () => this.#settle(key, queue, head, head.last));
    else this.#settle(key, queue, head, outcome);
  }

  #settle(key: string, queue: Entry[], head: Entry, outcome: LimitOutcome): void {
    if (head.cancelled) {
      // The client left while the store was asked: give back what it may have taken.
      outcome.release?.();
      if (queue[0] === head) this.#shift(key, queue);
      return this.#next(key, queue, 0);
    }
    head.last = outcome;
    if (outcome.allowed) {
      this.#shift(key, queue);
      head.request.finish(outcome);
      return this.#next(key, queue, 0);
    }
    const wait = head.request.waitOf(outcome, 0);
    if (outcome.reason === undefined && this.#clock() + wait <= head.request.deadline) return this.#wake(key, queue, wait);
    this.#shift(key, queue);
    head.request.finish(outcome);
    this.#next(key, queue, 0);
  }

  #next(key: string, queue: Entry[], waitMs: number): void {
    if (queue.length > 0 && this.#queues.get(key) === queue) this.#wake(key, queue, waitMs);
  }

  #shift(key: string, queue: Entry[]): void {
    queue.shift();
    if (queue.length === 0 && this.#queues.get(key) === queue) this.#queues.delete(key);
  }

  #cancel(key: string, entry: Entry): void {
    if (entry.cancelled) return;
    entry.cancelled = true;
    const queue = this.#queues.get(key);
    if (queue === undefined) return;
    const at = queue.indexOf(entry);
    if (at === -1) return;
    if (at === 0 && entry.timer !== undefined) {
      // The head was only waiting on its timer: hand the turn to the next at once.
      clearTimeout(entry.timer);
      entry.timer = undefined;
      this.#shift(key, queue);
      this.#next(key, queue, 0);
    } else if (at > 0) queue.splice(at, 1);
    // at === 0 without a timer: its attempt is in flight; #settle sees `cancelled`.
  }
}
