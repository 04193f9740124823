import { NEVER, runWorkersGateway } from './targets.js';

/** (o) gateway pass-through with 2 workers: the limit never triggers; decisions go to the primary's store over IPC. */
runWorkersGateway(NEVER, 'target-o.js');
