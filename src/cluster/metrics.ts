import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/**
 * The one /metrics of a gateway with workers: every worker's registry (as
 * prom-client JSON, asked over IPC) and the primary's own (the memory
 * store's gauge, `throttlegate_workers`, reloads) summed by prom-client's
 * AggregatorRegistry. Counters and histograms add up; a gauge that a sum
 * would make meaningless says how to combine in its `aggregator`
 * (observability/metrics.ts: `min` for store_up and target health, `max`
 * for circuit state and config info). A worker that does not answer in
 * time is left out of that scrape rather than failing it.
 */
export async function sumMetrics(own: Registry, workers: readonly Promise<unknown>[], timeoutMs = 2_000): Promise<string> {
  const answers = await Promise.all(workers.map((answer) => withTimeout(answer, timeoutMs).catch(() => undefined)));
  const all: MetricsJson[] = [await own.getMetricsAsJSON()];
  for (const answer of answers) if (Array.isArray(answer)) all.push(answer as MetricsJson);
  return AggregatorRegistry.aggregate(all).metrics();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (err: unknown) => (clearTimeout(timer), reject(err as Error)),
    );
  });
}
