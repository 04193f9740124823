import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startUpstream } from '../helpers/upstream.js';
import { startGateway } from '../helpers/gateway.js';
import { routesYaml } from '../helpers/http.js';
import { waitFor } from '../helpers/pool.js';

const TOTAL = 100 * 1024 * 1024;
const MB = 1024 * 1024;

// A fast origin and a client that stops reading: the gateway must stop reading the origin
// (backpressure through undici's parser), not buffer the difference in memory.
// A full collection on demand, without starting node with --expose-gc.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

test('a slow reader makes the gateway read the origin slowly: 100 MB through, memory stays flat', async (t) => {
  let written = 0;
  const chunk = Buffer.alloc(256 * 1024, 3);
  const up = await startUpstream(
    (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': TOTAL });
      // As fast as the socket takes it, honouring the origin's own backpressure.
      const pump = (): void => {
        while (written < TOTAL) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    },
    { bufferBody: false },
  );
  const gw = await startGateway(`routes:\n${routesYaml([{ path: '/api', upstream: up.url }])}`);
  t.after(() => Promise.all([gw.close(), up.close()]));

  // One full-speed download first: heap spaces and socket buffers settle at their working size,
  // so what is measured below is what a paused client adds, not the process warming up.
  await drain(gw.port);
  written = 0;
  // What the process holds alive: JS heap plus Buffers (arrayBuffers), after a collection. A gateway that
  // buffered instead of following the client would hold the body there. RSS also counts pages the allocator
  // keeps after a free, and heapUsed without a collection counts garbage: either bound failed about one run
  // in three with nothing buffered. RSS is reported alongside.
  const held = () => {
    collect();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const baseline = held();
  const rssBaseline = process.memoryUsage().rss;
  let peak = baseline;
  let rssPeak = rssBaseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, held());
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 100);
  t.after(() => clearInterval(sampler));

  const socket = connect(gw.port, '127.0.0.1');
  t.after(() => socket.destroy());
  socket.write('GET /api/big HTTP/1.1\r\nHost: gw\r\n\r\n');
  let received = 0;
  socket.on('data', (c: Buffer) => (received += c.length));
  await waitFor(() => received > 0, 5_000, 'the first bytes');
  // The client stops reading: what the origin may write is bounded by socket buffers, never the whole body.
  socket.pause();
  await new Promise((r) => setTimeout(r, 1_500));
  const writtenWhilePaused = written;
  assert.ok(writtenWhilePaused < 24 * MB, `the origin wrote ${(writtenWhilePaused / MB).toFixed(1)} MB to a client that read nothing`);

  // Then it reads in small sips: the gateway follows at the client's pace.
  const sip = setInterval(() => {
    socket.resume();
    setTimeout(() => socket.pause(), 2);
  }, 5);
  t.after(() => clearInterval(sip));
  await waitFor(() => received >= TOTAL, 25_000, 'the whole body');
  clearInterval(sip);
  const growth = peak - baseline;
  t.diagnostic(`held memory grew ${(growth / MB).toFixed(1)} MB, RSS ${((rssPeak - rssBaseline) / MB).toFixed(1)} MB, while 100 MB passed through`);
  assert.ok(growth < 16 * MB, `heap and buffers grew ${(growth / MB).toFixed(1)} MB while 100 MB passed through`);
});

/** Downloads the whole body at full speed on a raw socket. */
function drain(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = 0;
    socket.on('data', (c: Buffer) => {
      received += c.length;
      if (received >= TOTAL) {
        socket.destroy();
        resolve();
      }
    });
    socket.on('error', reject);
    socket.write('GET /api/warm-up HTTP/1.1\r\nHost: gw\r\n\r\n');
  });
}
