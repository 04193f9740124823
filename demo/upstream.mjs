#!/usr/bin/env node
// Demo upstream for demo.sh: answers every request with
//   {"upstream":"<name>","method":"GET","path":"/api/hello"}
// Usage: node demo/upstream.mjs NAME [PORT]
// Listens on 127.0.0.1:PORT (0 or omitted = a free port) and prints "PORT=<n>" once listening.
import http from 'node:http';

const [name = 'upstream', portArg = '0'] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`upstream ${name}: bad port "${portArg}"`);
  process.exit(2);
}

const server = http.createServer((req, res) => {
  req.resume(); // drain any body
  req.on('end', () => {
    const body = JSON.stringify({ upstream: name, method: req.method, path: req.url });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
});

server.on('error', (err) => {
  console.error(`upstream ${name}: ${err.message}`);
  process.exit(1);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`PORT=${server.address().port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
