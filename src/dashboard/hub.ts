import type { ServerResponse } from 'node:http';

/** A topic: what its subscribers are sent, computed once per tick for all of them. */
export interface Topic {
  /** The message a new subscriber gets first (the whole state). */
  snapshot(): Promise<string>;
  /** The message of this tick for every subscriber: the whole state again, or only what is new; undefined: nothing to send. */
  tick(): Promise<string | undefined>;
  /** The last subscriber left. */
  close?(): void;
  /** Every tick message is the whole state: a new subscriber is sent the latest one instead of a snapshot of its own. */
  readonly wholeState?: boolean;
}

// A viewer this far behind is not reading: it is dropped rather than buffered.
const MAX_BUFFERED = 4 * 1024 * 1024;
const HEARTBEAT_MS = 15_000;

/**
 * Server-sent events for the dashboard. Subscribers of the same topic (its
 * canonical key: name and parameters) share one computation per tick: ten
 * open dashboards cost one aggregation, not ten. The tick runs once a second
 * while anyone is subscribed, never overlapping itself; `onActive` says when
 * the first subscriber arrives and the last one leaves.
 */
export class StreamHub {
  readonly #topics = new Map<string, { topic: Topic; subscribers: Set<ServerResponse>; latest?: Promise<string> }>();
  // Whether a subscriber may still read (its session is live); checked every tick.
  readonly #allowed = new WeakMap<ServerResponse, () => boolean>();
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #lastBeat = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly onActive: (active: boolean) => void,
    /** Runs before each tick's topics (the primary of workers gathers their feeds here). */
    private readonly beforeTick: () => Promise<void> = async () => {},
  ) {}

  get subscribers(): number {
    let n = 0;
    for (const t of this.#topics.values()) n += t.subscribers.size;
    return n;
  }

  /**
   * Streams `key`'s messages to `res` until it closes, or until `allowed`
   * says no (a session that ended: signed out, expired, its token removed);
   * `make` builds the topic when no one holds it yet.
   */
  async subscribe(key: string, make: () => Topic, res: ServerResponse, allowed: () => boolean = () => true): Promise<void> {
    this.#allowed.set(res, allowed);
    let entry = this.#topics.get(key);
    if (entry === undefined) this.#topics.set(key, (entry = { topic: make(), subscribers: new Set() }));
    const held = entry;
    held.subscribers.add(res);
    if (this.subscribers === 1) this.#start();
    res.once('close', () => {
      held.subscribers.delete(res);
      if (held.subscribers.size === 0 && this.#topics.get(key) === held) {
        this.#topics.delete(key);
        held.topic.close?.();
      }
      if (this.subscribers === 0) this.#stop();
    });
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    // The browser reconnects after this long when the stream drops (a restart, a network blip).
    res.write('retry: 2000\n\n');
    send(res, await (held.topic.wholeState ? (held.latest ??= held.topic.snapshot()) : held.topic.snapshot()));
  }

  #start(): void {
    this.onActive(true);
    this.#timer = setInterval(() => void this.#tick(), this.intervalMs);
    this.#timer.unref();
  }

  #stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.onActive(false);
  }

  async #tick(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      await this.beforeTick().catch(() => {});
      const beat = Date.now() - this.#lastBeat >= HEARTBEAT_MS;
      if (beat) this.#lastBeat = Date.now();
      for (const entry of [...this.#topics.values()]) {
        const { topic, subscribers } = entry;
        const message = await topic.tick().catch(() => undefined);
        if (topic.wholeState && message !== undefined) entry.latest = Promise.resolve(message);
        for (const res of subscribers) {
          if (!(this.#allowed.get(res)?.() ?? true)) {
            res.end();
            continue;
          }
          if (message !== undefined) send(res, message);
          else if (beat) send(res, ': keep-alive\n\n');
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** Ends every stream (the admin app is closing). */
  close(): void {
    for (const { subscribers } of this.#topics.values()) for (const res of subscribers) res.end();
    this.#stop();
  }
}

/** An SSE message: `event` and one `data:` line of JSON (JSON has no newline that is not escaped). */
export function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function send(res: ServerResponse, message: string): void {
  if (res.destroyed || res.writableEnded) return;
  if (res.writableLength > MAX_BUFFERED) return void res.destroy();
  res.write(message);
}
