import { FLOOD, runWorkersGateway } from './targets.js';

/** (p) gateway flood with 2 workers: one client almost always 429, answered from each worker's over-limit cache. */
runWorkersGateway(FLOOD, 'target-p.js');
