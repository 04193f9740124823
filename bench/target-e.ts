import { NEVER, runGateway } from './targets.js';

/** (e) gateway pass-through on Redis: the limit never triggers, every request is one EVALSHA. */
runGateway(NEVER, 'target-e.js', 'tg-e:');
