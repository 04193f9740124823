/**
 * The gateway of `npm run bench:overload` (bench/overload.ts): argv ORIGIN_PORT on|off [ACCESS_LOG_FILE].
 * With a file, the access lines go there (the bench reads each request's band from them).
 */
import { createWriteStream } from 'node:fs';
import { buildGateway, parseConfig } from '../src/index.js';
import { batchedLines, createLogger } from '../src/observability/logging.js';
import { announce, fail, portArg, portOf } from './child.js';

const originPort = portArg('overload-gateway.js');
const concurrency = process.argv[3] === 'on';
const yaml = `server: { trust_proxy: 1 }
log: { level: ${process.argv[4] === undefined ? 'warn' : 'info'} }
rate_limit: { requests_per_second: 1000000, burst: 1000000, key: ["header:x-api-key", ip] }
adaptive: { mode: enforce }
routes:
  - path: /api
    upstream: http://127.0.0.1:${originPort}
    timeout_ms: 30000
${concurrency ? '    adaptive_concurrency: { min_limit: 3, max_limit: 200, initial_limit: 20, sample_window: 100ms, min_rtt_interval: 10s }\n' : ''}`;
const file = process.argv[4] === undefined ? undefined : createWriteStream(process.argv[4]);
const logger = file === undefined ? createLogger('warn', batchedLines({ write: () => true })) : createLogger('info', batchedLines(file));
buildGateway(parseConfig(yaml, '<overload>', {}), { port: 0, host: '127.0.0.1', logger })
  .then((gateway) => gateway.listen().then(() => announce(portOf(gateway.server.address()))))
  .catch(fail);
