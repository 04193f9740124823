import { fstatSync, statSync } from 'node:fs';
import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

/**
 * The gateway's one logger. Fastify's own per-request lines are disabled; the
 * gateway writes exactly one access line per request (see server.ts). Header
 * values are never logged, and the redact paths are a second fence should a
 * future log call pass a request or headers object.
 */
export function createLogger(level: string, destination: DestinationStream = batchedLines(process.stdout), bindings: Record<string, string | number> = {}): Logger {
  return pino(
    {
      level,
      // `worker` (cluster/worker.ts) names the process that wrote a line when several share stdout.
      base: { service: 'throttlegate', ...bindings },
      redact: {
        paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'headers.authorization', 'headers["x-api-key"]', 'headers.cookie'],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** A pino destination that can be flushed (on shutdown, and before announcing readiness). */
export interface FlushableDestination extends DestinationStream {
  flush(callback?: (err?: Error) => void): void;
}

/** Where batches go: process.stdout, or anything with the same write. */
export interface LineSink {
  write(text: string, callback?: () => void): unknown;
}

// Lines wait until this many characters are pending, or this long, whichever comes first.
const BATCH_CHARS = 16 * 1024;
const BATCH_MS = 50;

/** PIPE_BUF on Linux: the largest write a pipe (or a stream socket's peer reading it) gets whole. */
export const ATOMIC_PIPE_WRITE = 4096;

/** How a process sharing its stdout with others (the workers) batches: at most so many characters, and bytes per write(2). */
export interface SharedBatching {
  readonly chars: number;
  readonly atomicBytes: number;
}

/**
 * Batching for a worker whose stdout every worker shares. A regular file
 * takes each write(2) whole at the shared offset, and /dev/null keeps
 * nothing: the single process's 16 KiB batches. A pipe or socket (a process
 * manager, docker, journald) or a terminal keeps a write whole only up to
 * PIPE_BUF: batches of at most 4096 bytes, so lines never interleave.
 */
export function sharedStdoutBatching(fd = 1): SharedBatching {
  try {
    const stat = fstatSync(fd);
    if (stat.isFile() || (stat.isCharacterDevice() && stat.rdev === statSync('/dev/null').rdev)) return { chars: BATCH_CHARS, atomicBytes: Infinity };
  } catch {
    // No stdout to inspect (closed): the safe bound.
  }
  return { chars: ATOMIC_PIPE_WRITE, atomicBytes: ATOMIC_PIPE_WRITE };
}

/**
 * Log lines batched into one write per 16 KiB (`batchChars`) or 50 ms. Under load stdout
 * sees one write(2) per ~60 access lines; when idle a line appears within 50 ms.
 *
 * pino.destination's buffering (sonic-boom `minLength`) re-measures the whole
 * pending buffer on every line, which cost 3-4 µs per line here; this costs
 * well under one. On Linux, writes to pipes, files and TTYs are synchronous,
 * so a slow reader slows the gateway rather than growing its memory, and the
 * lines still waiting at exit are written by the exit hook.
 *
 * `atomicBytes`: no write is longer (but a single longer line), for
 * processes sharing a pipe (sharedStdoutBatching).
 */
export function batchedLines(out: LineSink, batchChars = BATCH_CHARS, atomicBytes = Infinity): FlushableDestination {
  let lines: string[] = [];
  let chars = 0;
  let timer: NodeJS.Timeout | undefined;
  const flushNow = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (lines.length === 0) return;
    const batch = lines;
    const text = batch.length === 1 ? (batch[0] as string) : batch.join('');
    lines = [];
    chars = 0;
    // A character is 1-3 bytes in UTF-8: only a batch that could pass the bound is measured, and then split by lines.
    if (text.length * 3 > atomicBytes && Buffer.byteLength(text) > atomicBytes) writeWhole(out, batch, atomicBytes);
    else out.write(text);
  };
  process.once('exit', flushNow);
  return {
    write(line: string): void {
      // A batch that would pass the bound goes first: processes sharing a pipe (workers) each write whole
      // batches of at most PIPE_BUF bytes, which the kernel never interleaves.
      if (chars > 0 && chars + line.length > batchChars) flushNow();
      lines.push(line);
      chars += line.length;
      if (chars >= batchChars) flushNow();
      else if (timer === undefined) {
        timer = setTimeout(flushNow, BATCH_MS);
        timer.unref();
      }
    },
    flush(callback?: (err?: Error) => void): void {
      flushNow();
      if (callback) out.write('', () => callback());
    },
  };
}

/** The lines of a batch in writes of at most `atomicBytes` each, whole lines only (a longer line alone). */
function writeWhole(out: LineSink, lines: readonly string[], atomicBytes: number): void {
  let group: string[] = [];
  let bytes = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line);
    if (bytes > 0 && bytes + size > atomicBytes) {
      out.write(group.join(''));
      group = [];
      bytes = 0;
    }
    group.push(line);
    bytes += size;
  }
  if (group.length > 0) out.write(group.join(''));
}
