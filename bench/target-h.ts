import { PEER_NEVER, runPeer } from './peer.js';

/** (h) @fastify/rate-limit on Redis, pass-through: the limit never triggers. */
runPeer(PEER_NEVER, 'target-h.js', 'rl-h:');
