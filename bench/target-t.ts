import cluster from 'node:cluster';
import { openSync } from 'node:fs';
import { announce, fail } from './child.js';
import { NEVER, runGatewayInWorker } from './targets.js';

/**
 * (t) the control for (o): two independent single-process gateways (the
 * gateway of (b), each with its own memory store: no shared limits, no
 * primary work, no IPC per request) in two node:cluster workers on one port,
 * as a process manager's cluster mode would run them. On the bench's one core,
 * (t) against (b) is what two processes taking turns on one core cost; (o)
 * against (t) is what sharing the limits across workers costs on top.
 */
if (cluster.isWorker) runGatewayInWorker(NEVER, 'target-t.js');
else {
  cluster.setupPrimary({ stdio: ['ignore', openSync('/dev/null', 'w'), 'inherit', 'ipc'] });
  const ports = new Set<number>();
  let listening = 0;
  for (let i = 0; i < 2; i++) {
    cluster.fork().on('message', (message: { port?: number }) => {
      if (typeof message.port !== 'number') return;
      ports.add(message.port);
      // node:cluster hands every worker listening on port 0 the same port.
      if (++listening < 2) return;
      if (ports.size !== 1) fail(new Error(`workers listen on ${[...ports].join(', ')}`));
      announce(message.port);
    });
  }
}
