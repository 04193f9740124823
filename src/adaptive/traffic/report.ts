/**
 * What a `traffic` run proves, from the generated events and the status each
 * got (pure): per class, how much the gateway refused (429) and blocked (403)
 * and how soon it first did; per client, whether the gateway acted on it at
 * all, scored against the labels (bad = positive). Times are in generated
 * seconds (event.at), so runs at different --speed compare.
 */
import { CLASS_LABELS, CLASS_NAMES, type ClassName, type TrafficEvent } from './classes.js';
import type { TrafficLabel } from '../types.js';

/** One class's line of the report. */
export interface ClassReport {
  readonly class: ClassName;
  readonly label: TrafficLabel;
  readonly clients: number;
  readonly requests: number;
  /** Share of its requests answered 429. */
  readonly refusedShare: number;
  /** Share of its requests answered 403. */
  readonly blockedShare: number;
  /** Requests that got no answer (connection error or timeout). */
  readonly errors: number;
  /** Generated seconds until any client of the class first got a 403 or 429; null: never. */
  readonly firstThrottledS: number | null;
}

/** The whole report. */
export interface TrafficReport {
  readonly requests: number;
  readonly errors: number;
  readonly classes: readonly ClassReport[];
  /** Per client: "acted on" = at least one 403 or 429. */
  readonly clients: {
    readonly total: number;
    readonly actedOn: number;
    readonly truePositives: number;
    readonly falsePositives: number;
    readonly falseNegatives: number;
    /** null when no client was acted on. */
    readonly precision: number | null;
    /** null when there is no bad client. */
    readonly recall: number | null;
  };
  readonly legitimate: {
    /** Share of good clients' requests answered 429 or 403. */
    readonly requestsRefusedShare: number;
    /** Share of good clients that got at least one 403. */
    readonly clientsBlockedShare: number;
  };
}

const throttled = (status: number): boolean => status === 429 || status === 403;
const share = (part: number, whole: number): number => (whole === 0 ? 0 : part / whole);

/** Builds the report; statuses[i] is what events[i] got, 0 when it got no answer. */
export function buildReport(events: readonly TrafficEvent[], statuses: ArrayLike<number>): TrafficReport {
  if (statuses.length !== events.length) throw new RangeError(`${events.length} events but ${statuses.length} statuses`);
  const perClass = new Map<ClassName, { clients: Set<string>; requests: number; refused: number; blocked: number; errors: number; first: number | null }>();
  for (const cls of CLASS_NAMES) perClass.set(cls, { clients: new Set(), requests: 0, refused: 0, blocked: 0, errors: 0, first: null });
  const client = new Map<string, { label: TrafficLabel; actedOn: boolean; blocked: boolean }>();
  let goodRequests = 0;
  let goodRefused = 0;
  let errors = 0;
  events.forEach((e, i) => {
    const status = statuses[i] ?? 0;
    const c = perClass.get(e.cls)!;
    c.clients.add(e.client);
    c.requests += 1;
    if (status === 429) c.refused += 1;
    if (status === 403) c.blocked += 1;
    if (status === 0) c.errors += 1;
    if (throttled(status) && (c.first === null || e.at < c.first)) c.first = e.at;
    const seen = client.get(e.client) ?? { label: e.label, actedOn: false, blocked: false };
    seen.actedOn ||= throttled(status);
    seen.blocked ||= status === 403;
    client.set(e.client, seen);
    if (status === 0) errors += 1;
    if (e.label === 'good') {
      goodRequests += 1;
      if (throttled(status)) goodRefused += 1;
    }
  });
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let good = 0;
  let goodBlocked = 0;
  for (const c of client.values()) {
    if (c.label === 'bad') {
      if (c.actedOn) tp += 1;
      else fn += 1;
    } else {
      good += 1;
      if (c.actedOn) fp += 1;
      if (c.blocked) goodBlocked += 1;
    }
  }
  return {
    requests: events.length,
    errors,
    classes: CLASS_NAMES.map((cls) => {
      const c = perClass.get(cls)!;
      return {
        class: cls,
        label: CLASS_LABELS[cls],
        clients: c.clients.size,
        requests: c.requests,
        refusedShare: share(c.refused, c.requests),
        blockedShare: share(c.blocked, c.requests),
        errors: c.errors,
        firstThrottledS: c.first === null ? null : c.first / 1000,
      };
    }),
    clients: {
      total: client.size,
      actedOn: tp + fp,
      truePositives: tp,
      falsePositives: fp,
      falseNegatives: fn,
      precision: tp + fp === 0 ? null : tp / (tp + fp),
      recall: tp + fn === 0 ? null : tp / (tp + fn),
    },
    legitimate: { requestsRefusedShare: share(goodRefused, goodRequests), clientsBlockedShare: share(goodBlocked, good) },
  };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const ratio = (x: number | null): string => (x === null ? '-' : x.toFixed(3));

/** The report as a text table. */
export function formatReport(report: TrafficReport): string {
  const head = ['class', 'label', 'clients', 'requests', 'refused 429', 'blocked 403', 'errors', 'first throttled'];
  const rows = report.classes.map((c) => [
    c.class,
    c.label,
    String(c.clients),
    String(c.requests),
    pct(c.refusedShare),
    pct(c.blockedShare),
    String(c.errors),
    c.firstThrottledS === null ? '-' : `${c.firstThrottledS.toFixed(1)} s`,
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const k = report.clients;
  return [
    line(head),
    ...rows.map(line),
    '',
    `clients acted on (a 403 or 429): ${k.actedOn} of ${k.total}; bad = positive: TP ${k.truePositives}, FP ${k.falsePositives}, FN ${k.falseNegatives}`,
    `precision ${ratio(k.precision)}, recall ${ratio(k.recall)}`,
    `legitimate requests refused (429 or 403): ${pct(report.legitimate.requestsRefusedShare)}; legitimate clients blocked (403): ${pct(report.legitimate.clientsBlockedShare)}`,
    `requests: ${report.requests}, without an answer: ${report.errors}`,
  ].join('\n');
}

/** The report as `--json` prints it (snake_case, as the gateway's own JSON is). */
export function reportJson(report: TrafficReport): Record<string, unknown> {
  const k = report.clients;
  return {
    requests: report.requests,
    errors: report.errors,
    classes: report.classes.map((c) => ({
      class: c.class,
      label: c.label,
      clients: c.clients,
      requests: c.requests,
      refused_share: c.refusedShare,
      blocked_share: c.blockedShare,
      errors: c.errors,
      first_throttled_s: c.firstThrottledS,
    })),
    clients: {
      total: k.total,
      acted_on: k.actedOn,
      true_positives: k.truePositives,
      false_positives: k.falsePositives,
      false_negatives: k.falseNegatives,
      precision: k.precision,
      recall: k.recall,
    },
    legitimate: {
      requests_refused_share: report.legitimate.requestsRefusedShare,
      clients_blocked_share: report.legitimate.clientsBlockedShare,
    },
  };
}
