import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { logLines, type Served } from './cli.js';
import { waitFor } from './wait.js';

/** Helpers for the tests of a gateway with `server.workers` > 1 (test/cluster/). */

export type Line = Record<string, unknown>;

/** The log label of an API key nothing verifies (`key:` + a SHA-256 prefix), as access lines name the client. */
export function label(apiKey: string): string {
  return `key:${createHash('sha256').update(apiKey).digest('hex').slice(0, 12)}`;
}

export function accessLines(gw: Served, match: (line: Line) => boolean = () => true): Line[] {
  return logLines(gw.output()).filter((l) => l.msg === 'request' && match(l));
}

/** Waits until at least `n` access lines match (workers write their lines in batches, a moment after answering). */
export function linesFor(gw: Served, n: number, match: (line: Line) => boolean): Promise<Line[]> {
  return waitFor(`${n} access lines`, () => {
    const lines = accessLines(gw, match);
    return lines.length >= n ? lines : false;
  }, 5_000, 50);
}

/** The worker ids that wrote these lines, sorted. */
export function workersOf(lines: Line[]): number[] {
  return [...new Set(lines.map((l) => l.worker as number))].sort();
}

/**
 * One GET over a connection of its own (so node:cluster hands it to a
 * worker); its status. Bounded: a request no worker answers fails the test
 * instead of hanging it.
 */
export function fresh(url: string, path: string, apiKey: string, timeoutMs = 10_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { agent: false, headers: { 'x-api-key': apiKey }, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to GET ${path} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Proves `workers` all show lines matching `match`. node:cluster's round
 * robin passes over a worker still busy with its last handoff, so on a
 * loaded machine a whole round of new connections can go to one worker:
 * while some worker shows none yet, another round is sent (`more`), every
 * status of which must be `status`, at most `maxRounds` times.
 */
export async function everyWorkerShows(
  gw: Served,
  workers: readonly number[],
  match: (line: Line) => boolean,
  more: () => Promise<number[]>,
  status: number,
  message: string,
  maxRounds = 20,
): Promise<void> {
  for (let round = 0; ; round++) {
    const shown = await waitFor('lines of every worker', () => {
      const seen = workersOf(accessLines(gw, match));
      return workers.every((w) => seen.includes(w)) ? seen : false;
    }, 300, 50).catch(() => undefined);
    if (shown !== undefined) return;
    if (round === maxRounds) assert.fail(`${message}: only workers ${JSON.stringify(workersOf(accessLines(gw, match)))} after ${maxRounds} more rounds`);
    const statuses = await more();
    assert.deepEqual(statuses, statuses.map(() => status), `${message}: a further round`);
  }
}

/** Stops a served gateway: SIGTERM, then SIGKILL after 15 s. */
export async function stop(gw: Served): Promise<void> {
  if (gw.child.exitCode !== null || gw.child.signalCode !== null) return;
  gw.child.kill('SIGTERM');
  const timer = setTimeout(() => gw.child.kill('SIGKILL'), 15_000);
  await gw.exited;
  clearTimeout(timer);
}
