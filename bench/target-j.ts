import { PEER_NEVER, runPeer } from './peer.js';

/** (j) @fastify/rate-limit on Redis, 100k keys: never triggers, every key is held for the whole run. */
runPeer(PEER_NEVER, 'target-j.js', 'rl-j:');
