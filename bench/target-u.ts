import { FLOOD, runIndependentGateways } from './targets.js';

/** (u) the control for (p): the gateways of (c), two of them independent in two node:cluster workers on one port (see target-t.ts). */
runIndependentGateways(FLOOD, 'target-u.js');
