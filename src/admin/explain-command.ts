import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import { MemoryStore } from '../limit/stores/memory.js';
import { LocalOverrides } from '../limit/overrides.js';
import type { ReadinessProbe } from '../observability/endpoints.js';
import { explain, explainContext } from './explain.js';
import { AdaptiveEngine } from '../adaptive/engine.js';
import { RiskModel } from '../adaptive/model.js';
import { loadShippedWeights } from '../adaptive/weights.js';

export const EXPLAIN_HELP = `Usage: throttlegate explain [--config FILE] METHOD PATH [--header NAME:VALUE]... [--ip ADDRESS] [--host HOST]

Prints, as JSON, what the gateway would do with one request under FILE: the
route, the client it takes the caller for (its log label, never a raw key),
allow/deny and require_api_key, the limits that bind it and the decision, as
GET /v1/explain on the admin API does for the live gateway. Offline, every
client is new: no state, no overrides; and the gateway is a fresh one whose
store answers, so /ready is 200. With adaptive: on, "risk" is the score and
band a client never seen gets from this request's headers alone.
  --header NAME:VALUE  a request header (repeatable), e.g. --header x-api-key:abc;
                       --header content-length:N is the declared body size (413)
  --ip ADDRESS         the client address (default 127.0.0.1)
  --host HOST          the Host header`;

/** `throttlegate explain`: the admin API's explanation, offline. Exits 0, or 1 on bad arguments or config. */
export async function runExplainCommand(args: string[], defaultConfig: string): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { config: { type: 'string', short: 'c' }, header: { type: 'string', multiple: true }, ip: { type: 'string' }, host: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    console.error(`throttlegate explain: ${(err as Error).message}\n\n${EXPLAIN_HELP}`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(EXPLAIN_HELP);
    return 0;
  }
  if (positionals.length !== 2) {
    console.error(`throttlegate explain: expected METHOD and PATH\n\n${EXPLAIN_HELP}`);
    return 1;
  }
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const at = h.indexOf(':');
    if (at < 1) {
      console.error(`throttlegate explain: --header must be NAME:VALUE, got "${h}"`);
      return 1;
    }
    headers[h.slice(0, at).trim().toLowerCase()] = h.slice(at + 1).trim();
  }
  let config;
  try {
    config = loadConfig(values.config ?? defaultConfig);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  const store = new MemoryStore(config.store.memory, { autoSweep: false });
  const [method, path] = positionals as [string, string];
  // No live store to ask: /ready is answered as by a gateway just started on this config, its store reachable.
  const readiness: ReadinessProbe = () => ({ ready: true, store: 'ok' });
  // A fresh engine (shipped weights, nothing observed): every client is judged at first sight.
  const risk = config.adaptive === null ? null : { engine: new AdaptiveEngine(config.adaptive, new RiskModel(loadShippedWeights())), clock: Date.now };
  const live = { store, overrides: new LocalOverrides(Date.now), readiness, risk };
  const result = await explain(explainContext(config), { method, path, headers, ip: values.ip ?? '127.0.0.1', host: values.host }, live);
  console.log(JSON.stringify(result, null, 2));
  await store.close();
  return 0;
}
