import { PEER_NEVER, runPeer } from './peer.js';

/** (k) @fastify/rate-limit on its in-memory store, pass-through: the reference for (b). */
runPeer(PEER_NEVER, 'target-k.js', null);
