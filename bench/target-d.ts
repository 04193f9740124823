import { HOLD, runGateway } from './targets.js';

/** (d) gateway 100k keys: never triggers, buckets are held for the whole run. */
runGateway(HOLD, 'target-d.js');
