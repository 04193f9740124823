/** The gateway of `npm run bench:overload` (bench/overload.ts): argv ORIGIN_PORT on|off. */
import { buildGateway, parseConfig } from '../src/index.js';
import { batchedLines, createLogger } from '../src/observability/logging.js';
import { announce, fail, portArg, portOf } from './child.js';

const originPort = portArg('overload-gateway.js');
const concurrency = process.argv[3] === 'on';
const yaml = `server: { trust_proxy: 1 }
log: { level: warn }
rate_limit: { requests_per_second: 1000000, burst: 1000000, key: ["header:x-api-key", ip] }
adaptive: { mode: enforce }
routes:
  - path: /api
    upstream: http://127.0.0.1:${originPort}
    timeout_ms: 30000
${concurrency ? '    adaptive_concurrency: { min_limit: 3, max_limit: 200, initial_limit: 20, sample_window: 100ms, min_rtt_interval: 10s }\n' : ''}`;
const logger = createLogger('warn', batchedLines({ write: () => true }));
buildGateway(parseConfig(yaml, '<overload>', {}), { port: 0, host: '127.0.0.1', logger })
  .then((gateway) => gateway.listen().then(() => announce(portOf(gateway.server.address()))))
  .catch(fail);
