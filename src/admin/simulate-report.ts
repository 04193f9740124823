import type { LimitSet, RouteConfig } from '../config/types.js';
import { NO_ROUTE } from '../observability/metrics.js';

/**
 * What happened to each request, one count per access-log `decision`
 * (README "Logs"): allowed, refused (`limited`), delayed, shadow_limited,
 * bypassed, denied, invalid_api_key, unlimited; `unrouted` and `too_large`
 * are the gateway's `none` (400/404/405 and 413, before any limit).
 */
export const OUTCOMES = ['allowed', 'delayed', 'shadow_limited', 'refused', 'denied', 'invalid_api_key', 'bypassed', 'unlimited', 'unrouted', 'too_large'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface RouteRow extends Record<Outcome, number> {
  /** The route's path (its metric label), `none` for requests no route took. */
  readonly route: string;
  /** Present when the route names a host: two routes may share a path. */
  readonly host?: string;
  /** The limit set's group (`/api`, `default+plan:pro`...), `-` before a set applies (no policy, unrouted). */
  readonly group: string;
  /** The set's plan, `anonymous`, or `-`. */
  readonly plan: string;
}

export interface SimulationReport {
  /** Non-blank lines read. */
  lines: number;
  /** Lines replayed as requests. */
  requests: number;
  /** Lines with a `msg` other than "request" (startup, reload...). */
  skipped: number;
  malformed: number;
  /** 1-based numbers of the first malformed lines. */
  malformed_lines: number[];
  /** Lines earlier than one before them: replayed at the later instant, since the limit state cannot go back in time. */
  out_of_order: number;
  /** Virtual time the log spans, first request to last. */
  seconds: number;
  /** Wall-clock time the replay took. */
  elapsed_ms: number;
  routes: RouteRow[];
  /** The 10 clients refused most, by log label (never a raw key). */
  top_refused: { client: string; refused: number }[];
}

const MAX_MALFORMED_LINES = 5;
const TOP_REFUSED = 10;

/** The counts of one replay, kept by (route, limit set) without building a string key per request. */
export class Tally {
  readonly #rows = new Map<RouteConfig | null, Map<string, RouteRow>>();
  readonly #refused = new Map<string, number>();
  lines = 0;
  requests = 0;
  skipped = 0;
  malformed = 0;
  readonly malformedLines: number[] = [];
  outOfOrder = 0;
  first = Infinity;
  last = -Infinity;

  count(route: RouteConfig | null, set: LimitSet | undefined, outcome: Outcome, client?: string): void {
    const row = this.#row(route, set);
    row[outcome]++;
    if (outcome === 'refused' && client !== undefined) this.#refused.set(client, (this.#refused.get(client) ?? 0) + 1);
  }

  malformedAt(line: number): void {
    this.malformed++;
    if (this.malformedLines.length < MAX_MALFORMED_LINES) this.malformedLines.push(line);
  }

  report(elapsedMs: number): SimulationReport {
    const routes = [...this.#rows.values()].flatMap((byGroup) => [...byGroup.values()]);
    routes.sort((a, b) => (a.route === NO_ROUTE ? 1 : 0) - (b.route === NO_ROUTE ? 1 : 0) || a.route.localeCompare(b.route) || a.group.localeCompare(b.group));
    const top = [...this.#refused].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, TOP_REFUSED);
    return {
      lines: this.lines,
      requests: this.requests,
      skipped: this.skipped,
      malformed: this.malformed,
      malformed_lines: [...this.malformedLines],
      out_of_order: this.outOfOrder,
      seconds: this.requests === 0 ? 0 : (this.last - this.first) / 1000,
      elapsed_ms: Math.round(elapsedMs * 10) / 10,
      routes,
      top_refused: top.map(([client, refused]) => ({ client, refused })),
    };
  }

  #row(route: RouteConfig | null, set: LimitSet | undefined): RouteRow {
    let byGroup = this.#rows.get(route);
    if (byGroup === undefined) this.#rows.set(route, (byGroup = new Map()));
    const group = set?.group ?? '-';
    let row = byGroup.get(group);
    if (row === undefined) {
      const counts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
      const where = route === null ? { route: NO_ROUTE } : { route: route.path, ...(route.host === null ? {} : { host: route.host }) };
      row = { ...where, group, plan: set === undefined ? '-' : (set.plan ?? 'anonymous'), ...counts };
      byGroup.set(group, row);
    }
    return row;
  }
}

/** The report as a table for a terminal: one row per route and limit set, then the top refused clients. */
export function formatReport(r: SimulationReport, file: string): string {
  const rate = r.elapsed_ms > 0 ? Math.round(r.lines / (r.elapsed_ms / 1000)) : r.lines;
  const out = [
    `${file}: ${r.lines} lines, ${r.requests} requests over ${r.seconds.toFixed(1)} s of log; ${r.skipped} skipped, ${r.malformed} malformed` +
      (r.malformed === 0 ? '' : ` (lines ${r.malformed_lines.join(', ')}${r.malformed > r.malformed_lines.length ? ', ...' : ''})`) +
      (r.out_of_order === 0 ? '' : `, ${r.out_of_order} out of time order`),
    `replayed in ${r.elapsed_ms} ms (${rate} lines/s)`,
    '',
  ];
  const header = ['route', 'limit set', ...OUTCOMES];
  const rows = r.routes.map((row) => [row.host === undefined ? row.route : `${row.host}${row.route}`, row.group, ...OUTCOMES.map((o) => String(row[o]))]);
  out.push(...table([header, ...rows]));
  if (r.top_refused.length > 0) {
    out.push('', 'top refused clients:');
    out.push(...table([['client', 'refused'], ...r.top_refused.map((c) => [c.client, String(c.refused)])]).map((l) => `  ${l}`));
  }
  return out.join('\n');
}

/** Left-aligned text columns, numbers right-aligned. */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (/^\d+$/.test(cell) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}
