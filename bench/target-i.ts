import { PEER_FLOOD, runPeer } from './peer.js';

/** (i) @fastify/rate-limit on Redis, flood: 1 request per 1 s window, so one client is almost always 429. */
runPeer(PEER_FLOOD, 'target-i.js', 'rl-i:');
