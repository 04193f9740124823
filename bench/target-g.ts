import { HOLD, runGateway } from './targets.js';

/** (g) gateway 100k keys on Redis: never triggers, every bucket is held in Redis for the whole run. */
runGateway(HOLD, 'target-g.js', 'tg-g:');
