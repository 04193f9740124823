/**
 * One simulated client's timeline: who it is (address, key, headers) and the
 * requests it sends, cut at the run's end. The class behaviours (good.ts,
 * bad.ts) drive a Track; they never build events themselves, so every event
 * carries the client's ground truth the same way.
 */
import { CLASS_LABELS, CLASS_NAMES, type ClassName, type TrafficEvent } from './classes.js';
import { Prng } from './prng.js';

/** What a client presents with a request; stuffers change it as they go. */
export interface Identity {
  readonly ip: string;
  readonly apiKey: string | undefined;
  readonly userAgent: string | undefined;
  readonly accept: string | undefined;
  readonly acceptLanguage: string | undefined;
}

/** One request, less what the identity says. */
export interface Request {
  readonly method?: string;
  readonly path: string;
  readonly query?: string;
  readonly bodyBytes?: number;
}

/** The most clients of one class: each gets the third octet of its own /24. */
export const MAX_CLIENTS_PER_CLASS = 254;

/** Client `index` (1-based) of a class: 10.k.index.host, k the class's 1-based position. */
export function ipv4(cls: ClassName, index: number, host: number): string {
  return `10.${CLASS_NAMES.indexOf(cls) + 1}.${index}.${host}`;
}

/** The same client on IPv6: fd00:k:index::host, its /64 being fd00:k:index:0::/64. */
export function ipv6(cls: ClassName, index: number, host: number): string {
  return `fd00:${CLASS_NAMES.indexOf(cls) + 1}:${index.toString(16)}::${host.toString(16)}`;
}

/** An opaque API key: nothing in it says which class holds it. */
export function newKey(rng: Prng): string {
  return `key_${rng.hex(16)}`;
}

export class Track {
  readonly cls: ClassName;
  readonly index: number;
  readonly client: string;
  readonly rng: Prng;
  readonly durationMs: number;
  /** What the next requests present: every behaviour sets it before its first request. */
  identity: Identity = { ip: '10.0.0.1', apiKey: undefined, userAgent: undefined, accept: undefined, acceptLanguage: undefined };
  readonly #events: TrafficEvent[] = [];

  constructor(cls: ClassName, index: number, seed: number, durationMs: number) {
    this.cls = cls;
    this.index = index;
    this.client = `${cls}-${index}`;
    this.rng = new Prng(seed, this.client);
    this.durationMs = durationMs;
  }

  /** Whether a request at `at` still falls inside the run. */
  open(at: number): boolean {
    return at < this.durationMs;
  }

  /** Records a request at `at` (rounded to whole ms); one past the run's end is dropped. */
  send(at: number, request: Request): void {
    const ms = Math.round(at);
    if (!this.open(ms)) return;
    this.#events.push({
      at: ms,
      client: this.client,
      cls: this.cls,
      label: CLASS_LABELS[this.cls],
      ...this.identity,
      method: request.method ?? 'GET',
      path: request.path,
      query: request.query ?? '',
      bodyBytes: request.bodyBytes ?? 0,
    });
  }

  /** The gap to the next request of a steady sender: 1/rate, varied by ±jitter. */
  gap(ratePerS: number, jitter: number): number {
    return (1000 / ratePerS) * this.rng.between(1 - jitter, 1 + jitter);
  }

  get events(): readonly TrafficEvent[] {
    return this.#events;
  }
}
