import { NEVER, runIndependentGateways } from './targets.js';

/**
 * (t) the control for (o): two independent single-process gateways (the
 * gateway of (b), each with its own memory store: no shared limits, no
 * primary work, no IPC per request) in two node:cluster workers on one port,
 * as a process manager's cluster mode would run them. On the bench's one core,
 * (t) against (b) is what two processes taking turns on one core cost; (o)
 * against (t) is what sharing the limits across workers costs on top.
 */
runIndependentGateways(NEVER, 'target-t.js');
