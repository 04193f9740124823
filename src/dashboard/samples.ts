import type { RequestSample } from '../observability/metrics.js';

/** A RequestSample as it crosses the IPC channel: maps and typed arrays as plain arrays. */
export interface SerialSample {
  readonly routes: readonly { readonly route: string; readonly count: number; readonly byStatus: readonly (readonly [number, number])[]; readonly buckets: readonly number[] }[];
  readonly bounds: readonly number[];
  readonly rateLimited: number;
}

export function serialiseSample(s: RequestSample): SerialSample {
  return { routes: s.routes.map((r) => ({ route: r.route, count: r.count, byStatus: [...r.byStatus], buckets: [...r.buckets] })), bounds: s.bounds, rateLimited: s.rateLimited };
}

/**
 * The workers' samples summed into one (the primary's dashboard): counts per
 * route and status, buckets and refusals add up. The config hash and last
 * reload are the primary's own, which sent every worker its config.
 */
export function sumSamples(samples: readonly SerialSample[], own: Pick<RequestSample, 'configHash' | 'lastReload' | 'bounds'>): RequestSample {
  const routes = new Map<string, { route: string; count: number; byStatus: Map<number, number>; buckets: Float64Array }>();
  let rateLimited = 0;
  for (const sample of samples) {
    rateLimited += sample.rateLimited;
    for (const r of sample.routes) {
      let sum = routes.get(r.route);
      if (sum === undefined) routes.set(r.route, (sum = { route: r.route, count: 0, byStatus: new Map(), buckets: new Float64Array(own.bounds.length + 1) }));
      sum.count += r.count;
      for (const [status, n] of r.byStatus) sum.byStatus.set(status, (sum.byStatus.get(status) ?? 0) + n);
      r.buckets.forEach((n, i) => (sum.buckets[i] = (sum.buckets[i] ?? 0) + n));
    }
  }
  return { routes: [...routes.values()], bounds: own.bounds, rateLimited, configHash: own.configHash, lastReload: own.lastReload };
}
