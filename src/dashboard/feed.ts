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
  /** As the client sent it, cut to 200 characters: client input, shown as text only. */
  readonly user_agent: string | null;
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

/** A tally's change since a worker's last export, as it crosses the IPC channel (the route by path). */
export type TallyDelta = Omit<ClientTally, 'route'> & { route: string | null };

/** FeedExport: what a worker sends its primary each tick (DashboardFeed.exportTick). */
export interface FeedExport {
  readonly tallies: readonly TallyDelta[];
  readonly lines: readonly FeedLine[];
  /** Pass back as the next call's cursor. */
  readonly cursor: number;
  readonly recent: readonly (readonly [string, readonly FeedLine[]])[];
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
  // Workers only: what changed since the primary last asked (exportTick), so it can add it to its own feed.
  #delta: Map<string, TallyDelta> | undefined;

  constructor(private readonly now: () => number = Date.now) {
    this.#generationStart = now();
  }

  /**
   * The request path's part, once per request while active: the client's
   * tally, and whether its line is wanted (the tail's budget for this second
   * has room, or a detail page watches the client). Only then does the
   * caller build the line (`keep`): at most 50 objects a second, not one a request.
   */
  count(time: number, client: string, status: number, decision: string, identity: ClientIdentity | undefined, route: RouteConfig | undefined): boolean {
    this.#tally(client, status, decision, identity, route, time);
    if (this.#watched.has(client)) return true;
    return Math.floor(time / 1000) !== this.#sampleSecond || this.#sampledThisSecond < TAIL_PER_SECOND;
  }

  /** A line `count` wanted: into the watching pages' lists and the sampled tail. */
  keep(line: FeedLine): void {
    const watched = this.#watched.get(line.client);
    if (watched !== undefined) {
      watched.unshift(line);
      if (watched.length > RECENT_PER_CLIENT) watched.pop();
    }
    this.#sample(line);
  }

  /** count() and keep() at once (tests, and lines built anyway). */
  record(line: FeedLine, identity: ClientIdentity | undefined, route: RouteConfig | undefined): void {
    if (this.count(line.time, line.client, line.status, line.decision, identity, route)) this.keep(line);
  }

  /** Into the tail, at most TAIL_PER_SECOND lines a second. */
  #sample(line: FeedLine): void {
    const second = Math.floor(line.time / 1000);
    if (second !== this.#sampleSecond) {
      this.#sampleSecond = second;
      this.#sampledThisSecond = 0;
    }
    if (this.#sampledThisSecond >= TAIL_PER_SECOND) return;
    this.#sampledThisSecond++;
    this.#tail[this.#seq % TAIL] = line;
    this.#seq++;
  }

  /** Starts (or stops) keeping the deltas a primary asks for with exportTick. */
  collectDeltas(on: boolean): void {
    this.#delta = on ? (this.#delta ?? new Map()) : undefined;
  }

  #tally(client: string, status: number, decision: string, identity: ClientIdentity | undefined, route: RouteConfig | undefined, now: number): void {
    if (now - this.#generationStart >= GENERATION_MS) {
      // Two generations old is out of the window.
      this.#previous = now - this.#generationStart >= 2 * GENERATION_MS ? new Map() : this.#current;
      this.#current = new Map();
      this.#generationStart = now;
    }
    let tally = this.#current.get(client);
    if (tally === undefined) {
      if (this.#current.size >= MAX_CLIENTS) return;
      tally = { client, requests: 0, refusals: 0, lastStatus: 0, lastSeen: 0, identity: null, route: null };
      this.#current.set(client, tally);
    }
    const refused = REFUSED.has(decision);
    tally.requests++;
    if (refused) tally.refusals++;
    tally.lastStatus = status;
    tally.lastSeen = now;
    if (identity !== undefined) tally.identity = identity;
    if (route !== undefined) tally.route = route;
    if (this.#delta !== undefined) {
      let d = this.#delta.get(client);
      if (d === undefined) this.#delta.set(client, (d = { client, requests: 0, refusals: 0, lastStatus: 0, lastSeen: 0, identity: null, route: null }));
      d.requests++;
      if (refused) d.refusals++;
      d.lastStatus = status;
      d.lastSeen = now;
      if (identity !== undefined) d.identity = identity;
      if (route !== undefined) d.route = route.path;
    }
  }

  /**
   * A worker's part of the primary's feed (cluster/primary.ts asks once a
   * second while a dashboard watches): the tallies changed since the last
   * call, the sampled lines after `cursor`, and the recent requests of the
   * clients the primary's detail pages watch (which this feed watches from
   * now on, and stops watching when they are no longer listed).
   */
  exportTick(cursor: number, watch: readonly string[]): FeedExport {
    const delta = this.#delta ?? new Map<string, TallyDelta>();
    this.#delta = new Map();
    for (const label of this.#watched.keys()) if (!watch.includes(label)) this.#watched.delete(label);
    const recent: [string, FeedLine[]][] = watch.map((label) => [label, [...this.watch(label)]]);
    // A negative cursor: the first call, which starts from now rather than from whatever the ring held.
    return { tallies: [...delta.values()], lines: cursor < 0 ? [] : this.linesSince(cursor), cursor: this.#seq, recent };
  }

  /** Adds what a worker exported (the primary's feed): tallies summed, lines sampled as its own, recent lists merged by time. */
  absorb(exported: readonly FeedExport[], routeOf: (path: string) => RouteConfig | undefined): void {
    for (const { tallies } of exported) {
      for (const d of tallies) {
        this.#tally(d.client, d.lastStatus, '', d.identity ?? undefined, d.route === null ? undefined : routeOf(d.route), d.lastSeen);
        // #tally counted one request: the rest of the delta is added to the same tally.
        const tally = this.#current.get(d.client);
        if (tally !== undefined) {
          tally.requests += d.requests - 1;
          tally.refusals += d.refusals;
        }
      }
    }
    const lines = exported.flatMap((e) => e.lines).sort((a, b) => a.time - b.time);
    for (const line of lines) this.#sample(line);
    const recent = new Map<string, FeedLine[]>();
    for (const e of exported) for (const [label, list] of e.recent) recent.set(label, [...(recent.get(label) ?? []), ...list]);
    for (const [label, list] of recent) {
      const kept = this.#watched.get(label);
      if (kept === undefined) continue;
      kept.splice(0, kept.length, ...list.sort((a, b) => b.time - a.time).slice(0, RECENT_PER_CLIENT));
    }
  }

  /** The labels detail pages watch here. */
  get watchedLabels(): string[] {
    return [...this.#watched.keys()];
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
    if (recent === undefined) {
      // Seeded from the sampled tail, so a page opened on a busy client is not empty until its next request.
      recent = this.linesSince(0).filter((l) => l.client === client).slice(0, RECENT_PER_CLIENT);
      this.#watched.set(client, recent);
    }
    return recent;
  }

  unwatch(client: string): void {
    this.#watched.delete(client);
  }
}

export const isRefusal = (decision: string): boolean => REFUSED.has(decision);
