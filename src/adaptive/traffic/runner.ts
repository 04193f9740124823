/**
 * Replays a generated mix against a running gateway in real time: event i is
 * sent `at / speed` ms after the start, over a bounded undici pool to the one
 * target given (no redirect is followed, so nothing else is ever contacted).
 * When `maxInFlight` requests are outstanding the next waits, and the run
 * reports how late it fell behind rather than hiding it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import type { TrafficEvent } from './classes.js';
import { DEFAULT_MIX, generate, type MixSpec } from './mix.js';
import { buildReport, type TrafficReport } from './report.js';
import { toRequest } from './request.js';

export interface TrafficOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080 (a path there prefixes every request's). */
  readonly target: string;
  readonly durationMs: number;
  readonly seed?: number;
  readonly mix?: MixSpec;
  /** Replay speed: 2 halves every delay (default 1, at most 100). */
  readonly speed?: number;
  /** Connections to the target (default 32). */
  readonly connections?: number;
  /** Requests outstanding at once (default 256). */
  readonly maxInFlight?: number;
  /** A run whose mix generates more requests than this is refused before it starts (default 200 000). */
  readonly maxRequests?: number;
  /** Allow a target that is not this machine's loopback (default false). */
  readonly allowRemote?: boolean;
  /** Per request: how long to wait for headers, then for the body (default 10 s). */
  readonly timeoutMs?: number;
  /** A monotonic clock in ms (default performance.now). */
  readonly now?: () => number;
}

/** A finished run. */
export interface TrafficRun {
  readonly report: TrafficReport;
  readonly events: readonly TrafficEvent[];
  /** What each event got: its status, 0 when no answer came. */
  readonly statuses: Uint16Array;
  /** The latest any request left after its scheduled time (ms, real). */
  readonly maxLagMs: number;
  readonly wallMs: number;
}

/** Longest run: an hour of generated traffic. */
export const MAX_DURATION_MS = 3_600_000;

/** Whether a URL's host is this machine's loopback (127.0.0.0/8, ::1, localhost). */
export function isLoopback(url: URL): boolean {
  const host = url.hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Checks the options a run cannot start without; throws RangeError naming the first wrong one. */
export function checkTarget(target: string, allowRemote: boolean): URL {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new RangeError(`--target must be a URL like http://127.0.0.1:8080, got "${target}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RangeError(`--target must be http or https, got ${url.protocol}`);
  if (url.search !== '' || url.hash !== '') throw new RangeError('--target must not have a query or fragment');
  if (!allowRemote && !isLoopback(url)) {
    throw new RangeError(`--target ${url.hostname} is not this machine's loopback; pass --allow-remote to send simulated attacks there`);
  }
  return url;
}

/** Runs the mix against the target and reports what the gateway did to each class. */
export async function runTraffic(options: TrafficOptions): Promise<TrafficRun> {
  const speed = options.speed ?? 1;
  if (!(speed > 0 && speed <= 100)) throw new RangeError(`speed must be > 0 and <= 100, got ${speed}`);
  if (!(options.durationMs >= 0 && options.durationMs <= MAX_DURATION_MS)) {
    throw new RangeError(`duration must be 0..${MAX_DURATION_MS / 1000} s, got ${options.durationMs} ms`);
  }
  const url = checkTarget(options.target, options.allowRemote ?? false);
  const events = generate(options.mix ?? DEFAULT_MIX, options.seed ?? 1, options.durationMs);
  const maxRequests = options.maxRequests ?? 200_000;
  if (events.length > maxRequests) throw new RangeError(`the run would send ${events.length} requests, over the bound of ${maxRequests}`);
  const prefix = url.pathname.replace(/\/+$/, '');
  const now = options.now ?? (() => performance.now());
  const maxInFlight = options.maxInFlight ?? 256;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pool = new Pool(url.origin, { connections: options.connections ?? 32, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  const statuses = new Uint16Array(events.length);
  const inFlight = new Set<Promise<void>>();

  const send = (i: number): void => {
    const request = toRequest(events[i] as TrafficEvent);
    const done: Promise<void> = pool
      .request({ method: request.method, path: prefix + request.path, headers: request.headers, body: request.body })
      .then(async (res) => {
        statuses[i] = res.statusCode;
        await res.body.dump();
      })
      .catch(() => undefined) // no answer: its status stays 0; a dump that fails after the status keeps the status
      .finally(() => inFlight.delete(done));
    inFlight.add(done);
  };

  const start = now();
  let maxLagMs = 0;
  try {
    for (let next = 0; next < events.length; ) {
      const due = start + (events[next] as TrafficEvent).at / speed;
      const wait = due - now();
      if (wait >= 1) {
        await sleep(wait);
      } else if (inFlight.size >= maxInFlight) {
        await Promise.race(inFlight);
      } else {
        maxLagMs = Math.max(maxLagMs, -wait);
        send(next);
        next += 1;
      }
    }
    await Promise.all(inFlight);
  } finally {
    await pool.close();
  }
  return { report: buildReport(events, statuses), events, statuses, maxLagMs, wallMs: now() - start };
}
