import { FLOOD, runGateway } from './targets.js';

/** (c) gateway flood: 1 req/s, burst 1, so one client is almost always 429. */
runGateway(FLOOD, 'target-c.js');
