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

/** What a worker process batches at most: PIPE_BUF on Linux, the largest write a pipe keeps whole. */
export const ATOMIC_PIPE_WRITE = 4096;

/**
 * Log lines batched into one write per 16 KiB (`batchChars`) or 50 ms. Under load stdout
 * sees one write(2) per ~60 access lines; when idle a line appears within 50 ms.
 *
 * pino.destination's buffering (sonic-boom `minLength`) re-measures the whole
 * pending buffer on every line, which cost 3-4 µs per line here; this costs
 * well under one. On Linux, writes to pipes, files and TTYs are synchronous,
 * so a slow reader slows the gateway rather than growing its memory, and the
 * lines still waiting at exit are written by the exit hook.
 */
export function batchedLines(out: LineSink, batchChars = BATCH_CHARS): FlushableDestination {
  let lines: string[] = [];
  let chars = 0;
  let timer: NodeJS.Timeout | undefined;
  const flushNow = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (lines.length === 0) return;
    const text = lines.length === 1 ? (lines[0] as string) : lines.join('');
    lines = [];
    chars = 0;
    out.write(text);
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
