import type { Override } from '../limit/overrides.js';
import type { Channel } from './channel.js';

/**
 * The primary's control messages to a worker, and the worker's answers, on
 * the same IPC channel as the store protocol (tagged `ctl`, so neither
 * reads the other's). Every request carries a sequence number; the worker
 * answers each with one `ack` of the same number.
 */
export type ControlRequest =
  /** The config to serve (at start) or to reload to: the text the primary validated, never re-read from disk. */
  | { readonly op: 'config'; readonly text: string; readonly file: string }
  /** Overrides to apply; `replace`: these are all of them (a worker's start), else changes (null: deleted). */
  | { readonly op: 'overrides'; readonly entries: readonly (readonly [string, Override | null])[]; readonly replace: boolean }
  /** This worker's metrics as prom-client JSON, for the primary's sum (cluster/metrics.ts). */
  | { readonly op: 'metrics' }
  /** Drain and exit, as on SIGTERM. */
  | { readonly op: 'shutdown' }
  /** The worker's request counters, for the dashboard's series (once a second). */
  | { readonly op: 'dashboard-sample' }
  /** The worker's target states (health, circuit), for the dashboard's routes page. */
  | { readonly op: 'dashboard-targets' }
  /** While a dashboard watches: the worker's feed since `cursor` (its tap on from now); `active: false` turns the tap off. */
  | { readonly op: 'dashboard-feed'; readonly active: boolean; readonly cursor: number; readonly watch: readonly string[] };

/** What a worker asks of its primary. */
export type WorkerRequest =
  /** The summed metrics text, for /metrics on the gateway's port. */
  | { readonly op: 'metrics-text' }
  /** Labels (digest prefixes) this worker has seen, with their state keys: the admin API resolves `key:<hex>` through them. */
  | { readonly op: 'labels'; readonly entries: readonly (readonly [string, string])[] }
  /** The worker is listening for control messages (sent once, first: a message sent before would be lost). */
  | { readonly op: 'hello' };

interface Envelope {
  readonly tg: 'ctl';
  readonly seq: number;
  readonly body?: unknown;
  readonly ack?: true;
  readonly ok?: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

const isEnvelope = (m: unknown): m is Envelope => typeof m === 'object' && m !== null && (m as { tg?: unknown }).tg === 'ctl';

/**
 * Request/answer over a Channel, both ways: `ask` sends and resolves with
 * the peer's answer (rejects on its error, or when the link closes first);
 * `serve` answers what the peer asks.
 */
export class ControlLink<Out, In> {
  readonly #channel: Channel;
  readonly #pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  #seq = 0;
  #closed = false;

  constructor(channel: Channel, serve: (request: In) => unknown) {
    this.#channel = channel;
    channel.onMessage((message) => {
      if (!isEnvelope(message)) return;
      if (message.ack) return this.#answered(message);
      // seq 0: told, not asked (tell()); no one waits for the answer.
      if (message.seq === 0) return void Promise.resolve().then(() => serve(message.body as In)).catch(() => {});
      Promise.resolve()
        .then(() => serve(message.body as In))
        .then(
          (value) => channel.send({ tg: 'ctl', seq: message.seq, ack: true, ok: true, value }),
          (err: unknown) => channel.send({ tg: 'ctl', seq: message.seq, ack: true, ok: false, error: (err as Error).message ?? String(err) }),
        );
    });
    channel.onClose(() => {
      this.#closed = true;
      for (const waiter of this.#pending.values()) waiter.reject(new Error('the other process went away'));
      this.#pending.clear();
    });
  }

  ask<T = unknown>(request: Out): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the other process went away'));
    const seq = ++this.#seq;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(seq, { resolve: resolve as (value: unknown) => void, reject });
      this.#channel.send({ tg: 'ctl', seq, body: request });
    });
  }

  /** Sends without waiting for an answer; the peer sends none. */
  tell(request: Out): void {
    if (!this.#closed) this.#channel.send({ tg: 'ctl', seq: 0, body: request });
  }

  #answered(message: Envelope): void {
    const waiter = this.#pending.get(message.seq);
    if (waiter === undefined) return;
    this.#pending.delete(message.seq);
    if (message.ok) waiter.resolve(message.value);
    else waiter.reject(new Error(message.error ?? 'failed'));
  }
}
