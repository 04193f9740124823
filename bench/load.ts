/** The load generator: autocannon, in-process (the runner is pinned to the loader CPU). */
import autocannon from 'autocannon';

export interface LoadOptions {
  readonly port: number;
  readonly seconds?: number;
  /** Run a fixed number of requests instead of a duration. */
  readonly amount?: number;
  readonly connections: number;
  /** Per-request x-api-key; default is one fixed key for every request. */
  readonly keys?: KeyCycler;
}

export interface Sample {
  readonly reqPerSec: number;
  readonly p50: number;
  readonly p99: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly sent: number;
}

/** Hands out x-api-key values k0 .. k(n-1), cycling; `used` counts how many were handed out. */
export class KeyCycler {
  used = 0;
  constructor(readonly distinct: number) {}
  next(): string {
    return `bench-key-${this.used++ % this.distinct}`;
  }
}

export const SINGLE_KEY = 'bench-client';

export async function fire(options: LoadOptions): Promise<Sample> {
  const { keys } = options;
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}/api/ping`,
    connections: options.connections,
    pipelining: 1,
    ...(options.amount === undefined ? { duration: options.seconds ?? 1 } : { amount: options.amount }),
    headers: { 'x-api-key': SINGLE_KEY },
    ...(keys && {
      requests: [
        {
          setupRequest: (request) => {
            request.headers = { ...request.headers, 'x-api-key': keys.next() };
            return request;
          },
        },
      ],
    }),
  });
  return {
    reqPerSec: result.requests.mean,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    sent: result.requests.sent,
  };
}

/** The gateway's throttlegate_active_clients gauge (buckets held by the store), or undefined. */
export async function activeClients(port: number): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const line = /^throttlegate_active_clients (\S+)$/m.exec(text);
  return line ? Number(line[1]) : undefined;
}
