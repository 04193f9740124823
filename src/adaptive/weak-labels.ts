import type { AdaptiveEngine } from './engine.js';
import { applyFeedback, LearningDisabledError, type FeedbackSinks } from './feedback.js';
import { LoginStreaks } from './login-streaks.js';
import type { Clock } from '../limit/stores/store.js';

/**
 * Labels the gateway infers from outcomes (issue 17: "optional weak labels
 * from outcomes"): `adaptive.failed_logins` failed logins in a row on routes
 * marked `login: true` label the client `bad`, learned, logged and counted as
 * an operator's label is (source `outcome`, who `gateway`). A weak label
 * moves the shared model within the same hourly bound, but binds no client:
 * it never lifts an operator's `good`, and a client an operator vouched for
 * is not learned from at all (the operator knows better than a streak).
 */
export class WeakLabeller {
  readonly #engine: AdaptiveEngine;
  readonly #streaks: LoginStreaks;
  readonly #sinks: FeedbackSinks;
  readonly #clock: Clock;

  constructor(engine: AdaptiveEngine, sinks: FeedbackSinks, clock: Clock) {
    this.#engine = engine;
    this.#streaks = new LoginStreaks(engine.config.failedLogins, engine.config.maxClients);
    this.#sinks = sinks;
    this.#clock = clock;
  }

  /** One answer of a login route to the client (after its features took the request). */
  noteLogin(clientKey: string, clientLabel: string, status: number): void {
    if (!this.#streaks.note(clientKey, status)) return;
    const engine = this.#engine;
    if (!engine.config.learn || engine.vouched(clientKey)) return;
    const feedback = { stateKey: clientKey, client: clientLabel, label: 'bad', source: 'outcome', who: 'gateway' } as const;
    applyFeedback(engine, feedback, this.#clock(), this.#sinks).catch((err: unknown) => {
      if (err instanceof LearningDisabledError) return;
      // The weights store failed (Redis down): the label is lost, as a 503 would tell an operator. Never the key.
      this.#sinks.logger.warn({ client: clientLabel, err: (err as Error).message }, 'adaptive weak label not learned');
    });
  }
}

/** A labeller when the config asks for weak labels (failed_logins > 0) and some route is a login route; else null. */
export function weakLabellerFor(engine: AdaptiveEngine, anyLoginRoute: boolean, sinks: FeedbackSinks, clock: Clock): WeakLabeller | null {
  return engine.config.failedLogins > 0 && anyLoginRoute ? new WeakLabeller(engine, sinks, clock) : null;
}
