/**
 * (v) The floor of a refusal: node:http answering every request with the
 * bytes of the gateway's 429 in (c) (the same status, limit headers and body,
 * all constant), nothing decided, routed, logged or counted. (c) against (v)
 * is what the gateway's refusal costs above what Node itself costs to answer.
 */
import { createServer } from 'node:http';
import { announce, fail, portArg } from './child.js';

portArg('target-v.js');
const BODY = '{"error":"rate_limited","retry_after":1}';
const HEAD = {
  'x-ratelimit-limit': '1',
  'x-ratelimit-remaining': '0',
  'x-ratelimit-reset': '1',
  'ratelimit-policy': '"default";q=1;w=1',
  ratelimit: '"default";r=0;t=1',
  'retry-after': '1',
  'content-type': 'application/json; charset=utf-8',
  'content-length': Buffer.byteLength(BODY),
};

const server = createServer((_req, res) => {
  res.writeHead(429, HEAD);
  res.end(BODY);
});
server.keepAliveTimeout = 60_000;
server.on('error', fail);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  announce(typeof address === 'object' && address !== null ? address.port : 0);
});
