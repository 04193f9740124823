import type { RouteConfig } from '../config/types.js';
import type { ClientIdentity } from '../limit/keys.js';

/** One request as the dashboard shows it: what the access line says, never a key or a query string. */
export interface FeedLine {
  readonly time: number;
  readonly method: string;
  readonly path: string;
  readonly route: string;
  readonly client: string;
  readonly status: number;
  readonly decision: string;
  readonly duration_ms: number;
  readonly band: string | null;
}

/** A client's traffic in the window: counts, its last answer, and what its limits are read under. */
export interface ClientTally {
  readonly client: string;
  requests: number;
  refusals: number;
  lastStatus: number;
  lastSeen: number;
  /** The identity its last request was limited as, and the route (to read its buckets); null: never identified. */
  identity: ClientIdentity | null;
  route: RouteConfig | null;
}

// The gateway's own refusals (the decision label of the access line).
const REFUSED = new Set(['limited', 'denied', 'blocked', 'invalid_api_key', 'risk_blocked', 'overloaded', 'refused_store_unavailable']);
const TAIL = 500;
const TAIL_PER_SECOND = 50;
const RECENT_PER_CLIENT = 50;
const GENERATION_MS = 30_000;
const MAX_CLIENTS = 10_000;

/**
 * What the request path tells the dashboard: written from the access log's
 * record (observability/access-log.ts), and only while a dashboard is
 * watching (`active`): otherwise the request path pays one property test.
 *
 * - a sampled tail (at most 50 lines a second, the last 500) with sequence
 *   numbers, so every viewer of the live log reads from one ring;
 * - per client, its requests and refusals over the last 30-60 s (two
 *   generations of 30 s; at most 10,000 clients each, later ones uncounted);
 * - the recent requests of the clients a detail page watches.
 */
export class DashboardFeed {
  active = false;
  readonly #tail: (FeedLine | undefined)[] = new Array(TAIL);
  #seq = 0;
  #sampleSecond = 0;
  #sampledThisSecond = 0;
  #current = new Map<string, ClientTally>();
  #previous = new Map<string, ClientTally>();
  #generationStart = 0;
  readonly #watched = new Map<string, FeedLine[]>();

  constructor(private readonly now: () => number = Date.now) {
    this.#generationStart = now();
  }

  record(line: FeedLine, identity: ClientIdentity | undefined, route: RouteConfig | undefined): void {
    const now = line.time;
    this.#tally(line, identity, route, now);
    const watched = this.#watched.get(line.client);
    if (watched !== undefined) {
      watched.unshift(line);
      if (watched.length > RECENT_PER_CLIENT) watched.pop();
    }
    const second = Math.floor(now / 1000);
    if (second !== this.#sampleSecond) {
      this.#sampleSecond = second;
      this.#sampledThisSecond = 0;
    }
    if (this.#sampledThisSecond >= TAIL_PER_SECOND) return;
    this.#sampledThisSecond++;
    this.#tail[this.#seq % TAIL] = line;
    this.#seq++;
  }

  #tally(line: FeedLine, identity: ClientIdentity | undefined, route: RouteConfig | undefined, now: number): void {
    if (now - this.#generationStart >= GENERATION_MS) {
      // Two generations old is out of the window.
      this.#previous = now - this.#generationStart >= 2 * GENERATION_MS ? new Map() : this.#current;
      this.#current = new Map();
      this.#generationStart = now;
    }
    let tally = this.#current.get(line.client);
    if (tally === undefined) {
      if (this.#current.size >= MAX_CLIENTS) return;
      tally = { client: line.client, requests: 0, refusals: 0, lastStatus: 0, lastSeen: 0, identity: null, route: null };
      this.#current.set(line.client, tally);
    }
    tally.requests++;
    if (REFUSED.has(line.decision)) tally.refusals++;
    tally.lastStatus = line.status;
    tally.lastSeen = now;
    if (identity !== undefined) tally.identity = identity;
    if (route !== undefined) tally.route = route;
  }

  /** Every client of the window, its two generations summed. */
  clients(): ClientTally[] {
    if (this.now() - this.#generationStart >= 2 * GENERATION_MS) {
      this.#previous = new Map();
      this.#current = new Map();
      this.#generationStart = this.now();
    }
    const merged = new Map<string, ClientTally>();
    for (const t of this.#previous.values()) merged.set(t.client, { ...t });
    for (const t of this.#current.values()) {
      const old = merged.get(t.client);
      if (old === undefined) merged.set(t.client, { ...t });
      else merged.set(t.client, { ...t, requests: t.requests + old.requests, refusals: t.refusals + old.refusals, identity: t.identity ?? old.identity, route: t.route ?? old.route });
    }
    return [...merged.values()];
  }

  /** The window's length in seconds (what "requests" on the clients page count over). */
  get windowSeconds(): number {
    return Math.round((this.now() - this.#generationStart + GENERATION_MS) / 1000);
  }

  /** The sequence number the next sampled line will get. */
  get seq(): number {
    return this.#seq;
  }

  /** Sampled lines with sequence numbers in [from, seq), newest first, at most TAIL. */
  linesSince(from: number): FeedLine[] {
    const start = Math.max(from, this.#seq - TAIL);
    const out: FeedLine[] = [];
    for (let i = this.#seq - 1; i >= start; i--) out.push(this.#tail[i % TAIL] as FeedLine);
    return out;
  }

  /** Starts keeping `client`'s recent requests (a detail page opened); returns the list, newest first. */
  watch(client: string): FeedLine[] {
    let recent = this.#watched.get(client);
    if (recent === undefined) this.#watched.set(client, (recent = []));
    return recent;
  }

  unwatch(client: string): void {
    this.#watched.delete(client);
  }
}

export const isRefusal = (decision: string): boolean => REFUSED.has(decision);
