import { runPoolGateway } from './targets.js';

/** (l) gateway pass-through to a pool of three origins: the limit never triggers, round robin. */
runPoolGateway('target-l.js');
