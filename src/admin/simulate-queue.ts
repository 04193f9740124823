import type { QueuedRequest } from '../limit/queue.js';
import type { LimitOutcome } from '../limit/stores/store.js';

interface Timer {
  readonly at: number;
  /** Insertion order: timers due at one instant run as Node runs them, first set first. */
  readonly seq: number;
  readonly run: () => void;
}

/**
 * Virtual time for a replay: `now` only moves forward, to the next due timer
 * or the next log line, so a day of log replays in the time it takes to
 * decide its requests. Timers live in a binary min-heap on (at, seq).
 */
export class VirtualClock {
  now = -Infinity;
  readonly #heap: Timer[] = [];
  #seq = 0;

  /** Runs `run` at virtual instant `at` (never before now). */
  at(at: number, run: () => void): void {
    const heap = this.#heap;
    heap.push({ at: Math.max(at, this.now), seq: this.#seq++, run });
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Timer, heap[parent] as Timer)) break;
      [heap[i], heap[parent]] = [heap[parent] as Timer, heap[i] as Timer];
      i = parent;
    }
  }

  /** Runs every timer due at or before `t` (a timer and a line at one instant: the timer first), then stands at `t`. */
  advanceTo(t: number): void {
    const heap = this.#heap;
    while (heap.length > 0 && (heap[0] as Timer).at <= t) this.#runNext();
    if (t > this.now) this.now = t;
  }

  /** Runs every timer left, however late: what the queues hold when the log ends still gets its answer. */
  drain(): void {
    while (this.#heap.length > 0) this.#runNext();
  }

  #runNext(): void {
    const heap = this.#heap;
    const top = heap[0] as Timer;
    const last = heap.pop() as Timer;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l] as Timer, heap[m] as Timer)) m = l;
        if (r < heap.length && before(heap[r] as Timer, heap[m] as Timer)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m] as Timer, heap[i] as Timer];
        i = m;
      }
    }
    if (top.at > this.now) this.now = top.at;
    top.run();
  }
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

interface Entry {
  readonly request: QueuedRequest;
  last: LimitOutcome;
}

/**
 * src/limit/queue.ts's DelayQueues on a virtual clock. DelayQueues sets real
 * timers (setTimeout), so a replay cannot drive it; this keeps its rules
 * line for line: a FIFO per (limit set, client) of at most maxQueue; a
 * newcomer's wait counts the units queued ahead of it; a wait past the
 * deadline is refused at once; only the head holds a timer, set to its exact
 * wait (whole ms, at least 1, as Node's timers are); when the head passes the
 * next asks at once. A log has no client disconnects, so there is no cancel.
 * The stores answer synchronously here (memory), so no promise branch either.
 */
export class VirtualQueues {
  readonly #queues = new Map<string, Entry[]>();
  readonly #clock: VirtualClock;

  constructor(clock: VirtualClock) {
    this.#clock = clock;
  }

  /** Queues `request`, first refused with `outcome`; false when the queue is full or the wait too long (refuse now). */
  enqueue(key: string, maxQueue: number, outcome: LimitOutcome, request: QueuedRequest): boolean {
    let queue = this.#queues.get(key);
    if (queue !== undefined && queue.length >= maxQueue) return false;
    let ahead = 0;
    for (const e of queue ?? []) ahead += e.request.cost;
    const wait = request.waitOf(outcome, ahead);
    if (this.#clock.now + wait > request.deadline) return false;
    if (queue === undefined) this.#queues.set(key, (queue = []));
    queue.push({ request, last: outcome });
    if (queue.length === 1) this.#wake(key, queue, wait);
    return true;
  }

  #wake(key: string, queue: Entry[], waitMs: number): void {
    const head = queue[0] as Entry;
    this.#clock.at(this.#clock.now + Math.max(1, Math.ceil(waitMs)), () => this.#try(key, queue, head));
  }

  #try(key: string, queue: Entry[], head: Entry): void {
    let outcome: LimitOutcome;
    try {
      outcome = head.request.attempt() as LimitOutcome;
    } catch {
      outcome = head.last;
    }
    head.last = outcome;
    if (outcome.allowed) {
      this.#shift(key, queue);
      head.request.finish(outcome);
      return this.#next(key, queue);
    }
    const wait = head.request.waitOf(outcome, 0);
    if (outcome.reason === undefined && this.#clock.now + wait <= head.request.deadline) return this.#wake(key, queue, wait);
    this.#shift(key, queue);
    head.request.finish(outcome);
    this.#next(key, queue);
  }

  #next(key: string, queue: Entry[]): void {
    if (queue.length > 0 && this.#queues.get(key) === queue) this.#wake(key, queue, 0);
  }

  #shift(key: string, queue: Entry[]): void {
    queue.shift();
    if (queue.length === 0 && this.#queues.get(key) === queue) this.#queues.delete(key);
  }
}
