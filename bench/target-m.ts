import { runPlanGateway } from './targets.js';

/** (m) gateway pass-through where the client holds a plan's key: a key lookup and three limits per request. */
runPlanGateway('target-m.js');
