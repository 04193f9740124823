/**
 * The OTLP/HTTP collector stand-in for (r): `node dist-test/bench/otlp-sink.js PORT` -> prints
 * `ready PORT`. Answers 200 to each POST /v1/traces as a collector does, reading the body but never
 * decoding it, on the loader's CPU like the origin, so the target's CPU is the gateway's own.
 * GET /stats says how many POSTs and bytes arrived, so a run can show that spans were sent.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, portArg } from './child.js';

let posts = 0;
let bytes = 0;

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ posts, bytes }));
    return;
  }
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    const ok = req.method === 'POST' && req.url === '/v1/traces';
    if (ok) posts++;
    res.writeHead(ok ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
  });
});
server.keepAliveTimeout = 60_000;

server.listen(portArg('otlp-sink.js'), '127.0.0.1', () => announce((server.address() as AddressInfo).port));
