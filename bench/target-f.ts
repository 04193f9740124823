import { FLOOD, runGateway } from './targets.js';

/** (f) gateway flood on Redis: 1 req/s, burst 1; most 429s come from the local over-limit cache. */
runGateway(FLOOD, 'target-f.js', 'tg-f:');
