/** (a) bare fastify + @fastify/http-proxy: the baseline. */
import { runBare } from './targets.js';

runBare();
