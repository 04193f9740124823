import type { LimitBrief, Override } from './contract';

const counts = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export const formatCount = (n: number): string => counts.format(n);

/** Requests per second: one decimal below 100, where the decimal still says something. */
export const formatRate = (n: number): string => (n < 100 ? oneDecimal : counts).format(n);

export const formatScore = (n: number): string => twoDecimals.format(n);

/** A share (0..1) as a percentage: one decimal below 10 %. */
export function formatPercent(share: number): string {
  const percent = share * 100;
  return `${(percent < 10 ? oneDecimal : counts).format(percent)} %`;
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '—';
  if (ms >= 1000) return `${twoDecimals.format(ms / 1000)} s`;
  return `${(ms < 10 ? oneDecimal : counts).format(ms)} ms`;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const dateAndClock = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium', hour12: false });

function toDate(time: string | number): Date | null {
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** 14:05:09, in the browser's zone. */
export function formatTime(time: string | number | null | undefined): string {
  const date = time === null || time === undefined ? null : toDate(time);
  return date === null ? '—' : clock.format(date);
}

export function formatDateTime(time: string | number | null | undefined): string {
  const date = time === null || time === undefined ? null : toDate(time);
  return date === null ? '—' : dateAndClock.format(date);
}

/** 45 s, 12 min, 3 h 20 min, 2 d 4 h. */
export function formatSeconds(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`;
  const days = Math.floor(hours / 24);
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`;
}

/** "until 14:05:09 (in 12 min)", or "no expiry". `now` is the snapshot's time, so all rows agree. */
export function formatExpiry(expiresAt: string | null, now: number): string {
  if (expiresAt === null) return 'no expiry';
  const date = toDate(expiresAt);
  if (date === null) return 'no expiry';
  return `until ${clock.format(date)} (in ${formatSeconds((date.getTime() - now) / 1000)})`;
}

/** "blocked, no expiry" or "5/s, burst 10, until …"; "none" without an override. */
export function overrideSummary(override: Override | null, now: number): string {
  if (override === null) return 'none';
  const expiry = formatExpiry(override.expires_at, now);
  if (override.kind === 'block') return `blocked, ${expiry}`;
  return `${formatRate(override.requests_per_second ?? 0)}/s, burst ${formatCount(override.burst ?? 0)}, ${expiry}`;
}

export function remainingOf(limit: LimitBrief | undefined): string {
  return limit === undefined ? '—' : `${formatCount(limit.remaining)} / ${formatCount(limit.limit)}`;
}

export const formatStatus = (status: number | null): string => (status === null || status === 0 ? '—' : String(status));

/** A CSS class for an HTTP status: 2xx ok, 429 and 403 refused, 5xx error. */
export function statusTone(status: number | null): string {
  if (status === null || status === 0) return '';
  if (status >= 500) return 'tone-bad';
  if (status === 429 || status === 403) return 'tone-warn';
  if (status >= 400) return 'tone-muted';
  return 'tone-ok';
}

// Decisions that let the request through (access-log.ts names them); any other refused it.
const PASSED = new Set(['allowed', 'delayed', 'shadow_limited', 'unlimited', 'bypassed', 'allowed_store_unavailable', 'none']);

export function decisionTone(decision: string): string {
  return PASSED.has(decision) ? 'tone-ok' : 'tone-warn';
}
