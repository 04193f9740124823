#!/usr/bin/env node
// Prints a TCP port that is free on 127.0.0.1 right now (the OS picks it). Used by demo.sh.
import net from 'node:net';

const server = net.createServer();
server.on('error', (err) => {
  console.error(`free-port: ${err.message}`);
  process.exit(1);
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  server.close(() => console.log(port));
});
