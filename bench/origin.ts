/** Origin for the benchmark: `node dist-test/bench/origin.js PORT` -> prints `ready PORT`. */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, portArg } from './child.js';

const BODY = Buffer.from(JSON.stringify({ ok: true, service: 'bench-origin' }));

const server = createServer((req, res) => {
  // Drain any request body, then answer with the fixed JSON body on a kept-alive socket.
  req.resume();
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': BODY.length,
    connection: 'keep-alive',
  });
  res.end(BODY);
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 61_000;

server.listen(portArg('origin.js'), '127.0.0.1', () => announce((server.address() as AddressInfo).port));
