import { Counter, Gauge, type Registry } from 'prom-client';
import type { BandName } from './config.js';
import type { FeedbackSource } from './feedback.js';
import type { TrafficLabel } from './types.js';
import type { RiskAction } from '../request-state.js';
import { counterChildren, type CounterChild } from '../observability/counter-children.js';

/**
 * Adaptive protection's series, on the gateway's registry, registered when
 * the first config turns it on. Labels are bounded: a configured route, one
 * of four bands, one of four actions; a feedback label (good, bad) and its
 * source (api, admin_block, admin_raise, outcome).
 */
export class AdaptiveMetrics {
  readonly #actions: Counter<'route' | 'band' | 'action'>;
  readonly #actionChild: (route: string, band: string, action: string) => CounterChild;
  readonly #feedback: Counter<'label' | 'source'>;

  constructor(registry: Registry, bandCounts: () => Record<BandName, number>) {
    const registers = [registry];
    new Gauge({
      name: 'throttlegate_risk_clients',
      help: 'Clients adaptive protection holds a band for, by band.',
      labelNames: ['band'],
      registers,
      collect() {
        for (const [band, n] of Object.entries(bandCounts())) this.labels(band).set(n);
      },
    });
    this.#actions = new Counter({
      name: 'throttlegate_adaptive_actions_total',
      help: 'What adaptive protection did (limited, blocked) or in shadow mode would have done (would_limit, would_block), by route and band.',
      labelNames: ['route', 'band', 'action'],
      registers,
    });
    this.#actionChild = counterChildren(this.#actions);
    this.#feedback = new Counter({
      name: 'throttlegate_feedback_total',
      help: 'Labels adaptive protection learned from, by label (good, bad) and source (api: POST /v1/feedback; admin_block, admin_raise: PUT /v1/limits/:key; outcome: failed logins in a row on a login: true route).',
      labelNames: ['label', 'source'],
      registers,
    });
  }

  countFeedback(label: TrafficLabel, source: FeedbackSource): void {
    this.#feedback.labels(label, source).inc();
  }

  count(route: string, band: string, action: RiskAction): void {
    this.#actionChild(route, band, action).inc();
  }
}
