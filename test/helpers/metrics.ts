import { send } from './http.js';

/** Every sample of a Prometheus text exposition, by series (`name{labels}`) -> value. */
export function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** GET /metrics from a gateway, parsed. */
export async function scrape(base: string): Promise<Map<string, number>> {
  const res = await send(base, '/metrics');
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  return samples(res.text);
}

/** The hashes throttlegate_config_info reports, with their values. */
export function configInfo(metrics: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [series, value] of metrics) {
    const m = /^throttlegate_config_info\{hash="([^"]*)"\}$/.exec(series);
    if (m) out.set(m[1] as string, value);
  }
  return out;
}

/** throttlegate_config_reloads_total for one result; 0 while the series does not exist yet. */
export function reloads(metrics: Map<string, number>, result: 'ok' | 'error'): number {
  return metrics.get(`throttlegate_config_reloads_total{result="${result}"}`) ?? 0;
}
