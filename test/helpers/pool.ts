import type { IncomingMessage, ServerResponse } from 'node:http';
import { startUpstream, type TestUpstream } from './upstream.js';
import { send } from './http.js';
import { waitFor as poll } from './wait.js';
import { freePort } from './redis.js';

/** waitFor (wait.ts) with the condition first, as the pool tests read best: resolves once `cond` holds. */
export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  await poll(what, async () => (await cond()) || undefined, timeoutMs, 10);
}

/** A port with nothing listening (a free port, left unbound). */
export const deadPort = freePort;

/**
 * The value of the one series of `name` whose labels include `labels`, read
 * from GET /metrics; 0 when there is no such series (a counter never touched).
 */
export async function metric(base: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = (await send(base, '/metrics')).text;
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{(.*)\} (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] as string).matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return 0;
}

/** Requests to the upstream that were not health checks. */
export const traffic = (up: TestUpstream, healthPath = '/healthz'): number => up.seen.filter((s) => s.url !== healthPath).length;

/**
 * An upstream that answers 200 at once, or, while `hold` is set, keeps each
 * request open until `release()`. `healthy` drives GET /healthz (200 or 503)
 * and `status` the status of every other answer.
 */
export interface ControlledUpstream extends TestUpstream {
  hold: boolean;
  healthy: boolean;
  status: number;
  /** Requests held open now. */
  readonly held: number;
  release(): void;
}

export async function startControlledUpstream(name: string): Promise<ControlledUpstream> {
  const waiting: ServerResponse[] = [];
  const state = { hold: false, healthy: true, status: 200 };
  const reply = (res: ServerResponse, status: number) => res.writeHead(status, { 'content-type': 'text/plain', 'x-upstream': name }).end(name);
  const up = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/healthz') return reply(res, state.healthy ? 200 : 503);
    if (!state.hold) return reply(res, state.status);
    waiting.push(res);
    res.on('close', () => {
      const i = waiting.indexOf(res);
      if (i !== -1) waiting.splice(i, 1);
    });
  });
  // Accessors, so a test flips the flags on the returned object and the handler sees them.
  const flag = (key: keyof typeof state) => ({ get: () => state[key], set: (v: never) => void (state[key] = v), enumerable: true });
  return Object.defineProperties(up, {
    hold: flag('hold'),
    healthy: flag('healthy'),
    status: flag('status'),
    held: { get: () => waiting.length },
    release: { value: () => waiting.splice(0).forEach((res) => reply(res, 200)) },
  }) as ControlledUpstream;
}
