import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ATOMIC_PIPE_WRITE, batchedLines, sharedStdoutBatching } from '../../src/observability/logging.js';

function recorder(): { writes: string[]; sink: { write(text: string, callback?: () => void): void } } {
  const writes: string[] = [];
  return { writes, sink: { write: (text, callback) => { if (text !== '') writes.push(text); callback?.(); } } };
}

test('lines wait until a batch is full, then go as one write that holds only whole lines', () => {
  const { writes, sink } = recorder();
  const out = batchedLines(sink, 100);
  const line = `${'x'.repeat(39)}\n`; // 40 characters
  out.write(line);
  out.write(line);
  assert.equal(writes.length, 0, 'two lines (80 characters) stay pending under a 100-character batch');
  out.write(line); // would pass 100: the pending two go first
  assert.deepEqual(writes, [line + line]);
  out.flush();
  assert.deepEqual(writes, [line + line, line]);
});

test('with an atomic byte bound, a batch of multi-byte lines is split by lines, no write over the bound', () => {
  const { writes, sink } = recorder();
  const bound = 64;
  const out = batchedLines(sink, 64, bound);
  // 20 characters, 3 bytes each in UTF-8 plus the newline: 61 bytes; two such lines are 122 bytes but 42 characters.
  const wide = `${'€'.repeat(20)}\n`;
  out.write(wide);
  out.write(wide);
  out.flush();
  assert.deepEqual(writes, [wide, wide]);
  for (const w of writes) assert.ok(Buffer.byteLength(w) <= bound, `a write of ${Buffer.byteLength(w)} bytes`);
});

test('ASCII batches under the bound are still one write', () => {
  const { writes, sink } = recorder();
  const out = batchedLines(sink, ATOMIC_PIPE_WRITE, ATOMIC_PIPE_WRITE);
  const line = `${'a'.repeat(99)}\n`;
  for (let i = 0; i < 40; i++) out.write(line); // 4000 characters
  out.flush();
  assert.equal(writes.length, 1);
  assert.equal(writes[0], line.repeat(40));
});

test('workers sharing a regular file or /dev/null batch 16 KiB; a socket gets PIPE_BUF', async () => {
  const file = openSync(join(mkdtempSync(join(tmpdir(), 'tg-lines-')), 'out.log'), 'w');
  const devNull = openSync('/dev/null', 'w');
  try {
    assert.deepEqual(sharedStdoutBatching(file), { chars: 16 * 1024, atomicBytes: Infinity });
    assert.deepEqual(sharedStdoutBatching(devNull), { chars: 16 * 1024, atomicBytes: Infinity });
  } finally {
    closeSync(file);
    closeSync(devNull);
  }
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  const client: Socket = connect(address.port, '127.0.0.1');
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  try {
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    assert.ok(fd > 2, 'the socket has a descriptor of its own');
    assert.deepEqual(sharedStdoutBatching(fd), { chars: ATOMIC_PIPE_WRITE, atomicBytes: ATOMIC_PIPE_WRITE });
  } finally {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
