import type { LimitStep } from './store.js';
import { parseSteps, type ScriptReply } from './redis-script.js';

/** Sends one script call for a batch: every check's keys, then every check's ARGV, in order (redis-script.ts). */
export type SendBatch = (keys: string[], args: string[]) => Promise<ScriptReply>;

interface Waiter {
  /** How many limits (keys) this check has: its share of the reply. */
  readonly count: number;
  resolve(steps: LimitStep[]): void;
  reject(err: Error): void;
}

// A call never carries more than this many checks, nor (past the first check) keys; a fuller batch is sent at once.
const MAX_BATCH = 128;
const MAX_KEYS = 512;

/**
 * Checks asked within one turn of the event loop go to Redis as one script
 * call: under load the requests read in one poll phase share one command, one
 * write(2), one reply and one timeout timer, where a command per check (even
 * auto-pipelined) costs ioredis a Command, a promise, a timer and a share of a
 * Pipeline each. A batch is sent from setImmediate, after the poll phase that
 * filled it, so it waits less than one loop turn. Checks of many limits fill
 * a call by keys first: one call stays small enough not to stall Redis.
 *
 * `maxBatch: 1` sends each check at once: Redis Cluster needs every key of a
 * call in one slot, and two keys rarely share one (there a check of several
 * limits is not batched at all but sent per key, redis.ts).
 */
export class CheckBatcher {
  readonly #send: SendBatch;
  readonly #maxBatch: number;
  readonly #maxKeys: number;
  #keys: string[] = [];
  #args: string[] = [];
  #waiters: Waiter[] = [];
  #scheduled = false;

  constructor(send: SendBatch, options: { maxBatch?: number; maxKeys?: number } = {}) {
    this.#send = send;
    this.#maxBatch = Math.max(1, Math.min(options.maxBatch ?? MAX_BATCH, MAX_BATCH));
    this.#maxKeys = Math.max(1, options.maxKeys ?? MAX_KEYS);
  }

  /** One check's keys and ARGV (redis-script.ts `checkKeys`, `encodeCheck`); resolves to one step per key. */
  take(keys: readonly string[], args: readonly string[]): Promise<LimitStep[]> {
    return new Promise<LimitStep[]>((resolve, reject) => {
      if (this.#waiters.length > 0 && this.#keys.length + keys.length > this.#maxKeys) this.#flush();
      for (const key of keys) this.#keys.push(key);
      for (const arg of args) this.#args.push(arg);
      this.#waiters.push({ count: keys.length, resolve, reject });
      if (this.#waiters.length >= this.#maxBatch || this.#keys.length >= this.#maxKeys) this.#flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    if (this.#waiters.length === 0) return;
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
        if (!Array.isArray(reply) || reply.length !== keys.length * 4) {
          const err = new Error(`unexpected script reply: ${keys.length * 4} entries expected`);
          for (const waiter of waiters) waiter.reject(err);
          return;
        }
        let first = 0;
        for (const waiter of waiters) {
          waiter.resolve(parseSteps(reply, first, waiter.count));
          first += waiter.count;
        }
      },
      (err: Error) => {
        for (const waiter of waiters) waiter.reject(err);
      },
    );
  };
}
