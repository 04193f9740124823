import { isbot } from 'isbot';

/**
 * isbot's verdict on User-Agent strings, remembered for the last few thousand
 * distinct agents. isbot is one large regular expression, about 2 µs a call on
 * a browser's agent, while real traffic repeats a few hundred agents, so a Map
 * lookup (tens of ns, nothing allocated) answers nearly every request. The
 * cache is cleared when full rather than kept in recency order: an attacker
 * sending a fresh agent each time costs what isbot costs anyway, no more.
 * Agents longer than MAX_CACHED_LENGTH are judged but not kept, so the cache
 * stays under about 4 MB whatever the agents sent.
 */
export class AgentVerdicts {
  readonly #max: number;
  readonly #known = new Map<string, boolean>();

  constructor(max = 4096) {
    this.#max = max;
  }

  /** isbot(userAgent); false without an agent (no_user_agent counts those). */
  isBot(userAgent: string | undefined): boolean {
    if (userAgent === undefined || userAgent === '') return false;
    const known = this.#known.get(userAgent);
    if (known !== undefined) return known;
    const verdict = isbot(userAgent);
    if (userAgent.length > MAX_CACHED_LENGTH) return verdict;
    if (this.#known.size >= this.#max) this.#known.clear();
    this.#known.set(userAgent, verdict);
    return verdict;
  }
}

// Browsers' agents run 100-300 characters; longer ones are rare and not worth a place.
const MAX_CACHED_LENGTH = 512;
