import type { Logger } from '../../observability/logging.js';

/** At most one warn line per this long, however many newcomers a full store refuses. */
export const CAPACITY_WARN_EVERY_MS = 60_000;

/**
 * What a full memory store tells the operator: every refusal is counted (the
 * metric), and a warn line, at most once a minute so a flood cannot flood the
 * log too, says how many were refused since the last one and what to do.
 */
export function capacityReporter(logger: Logger, count: () => void, maxKeys: number, now: () => number = () => performance.now()): () => void {
  let lastLineAt = -Infinity;
  let refused = 0;
  return () => {
    count();
    refused++;
    const at = now();
    if (at - lastLineAt < CAPACITY_WARN_EVERY_MS) return;
    logger.warn(
      { event: 'store_full', max_keys: maxKeys, refused },
      `memory store full: all ${maxKeys} states (store.memory.max_keys) still limit a client, so ${refused} new client request(s) got 429 ` +
        'since the last such line; raise store.memory.max_keys, or look for a flood of fresh keys or addresses (throttlegate_store_capacity_refusals_total)',
    );
    lastLineAt = at;
    refused = 0;
  };
}
