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

/**
 * A gateway metric from /metrics, summed over its label sets
 * (throttlegate_active_clients, throttlegate_store_errors_total, ...);
 * undefined when the gateway does not export it.
 */
export async function gatewayMetric(port: number, name: string): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  if (!text.includes(`# TYPE ${name} `)) return undefined;
  const series = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm');
  return [...text.matchAll(series)].reduce((sum, m) => sum + Number(m[1]), 0);
}
