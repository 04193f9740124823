import type { RawStep } from '../algorithms/token-bucket.js';
import { parseReply, type ScriptReply } from './redis-script.js';

/** Sends one script call for a batch: keys, then rate and burst per key (redis-script.ts). */
export type SendBatch = (keys: string[], args: number[]) => Promise<ScriptReply>;

interface Waiter {
  resolve(step: RawStep): void;
  reject(err: Error): void;
}

// A call never carries more than this many decisions; a fuller batch is sent at once.
const MAX_BATCH = 128;

/**
 * Decisions asked within one turn of the event loop go to Redis as one script
 * call: under load the requests read in one poll phase share one command, one
 * write(2), one reply and one timeout timer, where a command per decision
 * (even auto-pipelined) costs ioredis a Command, a promise, a timer and a
 * share of a Pipeline each. A batch is sent from setImmediate, after the
 * poll phase that filled it, so it waits less than one loop turn.
 *
 * `maxBatch: 1` sends each decision at once: Redis Cluster needs every key of
 * a call in one slot, and two clients' buckets rarely share one.
 */
export class DecisionBatcher {
  readonly #send: SendBatch;
  readonly #maxBatch: number;
  #keys: string[] = [];
  #args: number[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;

  constructor(send: SendBatch, options: { maxBatch?: number } = {}) {
    this.#send = send;
    this.#maxBatch = Math.max(1, Math.min(options.maxBatch ?? MAX_BATCH, MAX_BATCH));
  }

  take(key: string, rate: number, burst: number): Promise<RawStep> {
    return new Promise<RawStep>((resolve, reject) => {
      this.#keys.push(key);
      this.#args.push(rate, burst);
      this.#waiters.push({ resolve, reject });
      if (this.#keys.length >= this.#maxBatch) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#keys.length === 0) return;
    const waiters = this.#waiters;
    const keys = this.#keys;
    const args = this.#args;
    this.#keys = [];
    this.#args = [];
    this.#waiters = [];
    let sent: Promise<ScriptReply>;
    try {
      sent = this.#send(keys, args);
    } catch (err) {
      sent = Promise.reject(err as Error);
    }
    sent.then(
      (reply) => {
        if (!Array.isArray(reply) || reply.length !== waiters.length * 4) {
          const err = new Error(`unexpected script reply: ${waiters.length * 4} entries expected`);
          for (const waiter of waiters) waiter.reject(err);
          return;
        }
        for (let i = 0; i < waiters.length; i++) (waiters[i] as Waiter).resolve(parseReply(reply, i));
      },
      (err: Error) => {
        for (const waiter of waiters) waiter.reject(err);
      },
    );
  };
}
