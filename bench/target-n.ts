/**
 * (n) The ceiling: node:http + undici `Pool.stream` writing the origin's
 * answer straight into the response, about thirty lines with no routing,
 * limits, logging or header rules (shared/research/proxy-hotpath.md,
 * `min-stream`). The table shows how far the gateway is from what Node can do.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { announce, fail, portArg, portOf } from './child.js';

const originPort = portArg('target-n.js');
const origin = `http://127.0.0.1:${originPort}`;
const pool = new Pool(origin, { connections: 128, pipelining: 1 });
const HOP = ['connection', 'keep-alive', 'transfer-encoding'];

function without(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out = { ...headers };
  for (const name of HOP) delete out[name];
  return out;
}

const server = createServer((req, res) => {
  const bodiless = req.method === 'GET' || req.method === 'HEAD';
  pool.stream(
    { path: (req.url ?? '/').replace(/^\/api/, '') || '/', method: req.method as 'GET', headers: { ...without(req.headers), host: `127.0.0.1:${originPort}` }, body: bodiless ? null : req },
    ({ statusCode, headers }) => {
      res.writeHead(statusCode, without(headers as IncomingHttpHeaders));
      return res;
    },
    (err) => {
      if (err && !res.headersSent) res.writeHead(502).end();
    },
  );
});
server.keepAliveTimeout = 75_000;
server.listen(0, '127.0.0.1', () => announce(portOf(server.address())));
server.on('error', fail);
