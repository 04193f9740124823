import { Agent, request } from 'node:http';

export interface FloodResult {
  readonly statuses: Map<number, number>;
  readonly allowed: number;
  /** Seconds from the first request sent to the last one sent. */
  readonly seconds: number;
  /** Slowest request, ms. */
  readonly slowestMs: number;
}

/**
 * One client flooding several gateways round-robin for `seconds`, with
 * `perTarget` requests in flight to each, on kept-alive sockets. Bounded in
 * time; traffic only to the given loopback URLs.
 */
export async function flood(urls: readonly string[], path: string, headers: Record<string, string>, seconds: number, perTarget = 2): Promise<FloodResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: perTarget * urls.length });
  const statuses = new Map<number, number>();
  let first = Infinity;
  let last = 0;
  let slowestMs = 0;
  let next = 0;
  const end = performance.now() + seconds * 1000;
  const one = (url: string) =>
    new Promise<void>((resolve) => {
      const sent = performance.now();
      first = Math.min(first, sent);
      last = Math.max(last, sent);
      const req = request(new URL(path, url), { agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
          slowestMs = Math.max(slowestMs, performance.now() - sent);
          resolve();
        });
      });
      req.on('error', () => {
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
        resolve();
      });
      req.end();
    });
  const lane = async () => {
    while (performance.now() < end) await one(urls[next++ % urls.length] as string);
  };
  await Promise.all(Array.from({ length: perTarget * urls.length }, lane));
  agent.destroy();
  return { statuses, allowed: statuses.get(200) ?? 0, seconds: (last - first) / 1000, slowestMs };
}
