import { NEVER, runGateway } from './targets.js';

/** (q) the gateway of (b) with adaptive protection on, mode enforce: every request scored, observed and logged with its band. */
runGateway(NEVER, 'target-q.js', undefined, true);
