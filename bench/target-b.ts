import { NEVER, runGateway } from './targets.js';

/** (b) gateway pass-through: the limit never triggers. */
runGateway(NEVER, 'target-b.js');
