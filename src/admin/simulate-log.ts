import { closeSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** One request read from a log, as `simulate` replays it. */
export interface LogRequest {
  /** Epoch ms. */
  readonly time: number;
  /** Upper case, as Node's parser hands it to the gateway. */
  readonly method: string;
  /** Path, possibly with a query string (query:NAME key sources read it). */
  readonly target: string;
  /** The Host header, '' when the line has none (routes with a `host:` then never match). */
  readonly host: string;
  /** Lower-cased names, as IncomingMessage holds them; undefined when the line had none. */
  readonly headers: Record<string, string | string[]> | undefined;
  /** An API key, presented through the route's first header/query key source. */
  readonly key: string | undefined;
  /** The client address after trust_proxy. */
  readonly ip: string | undefined;
  /** The gateway's own log label (`ip:...`, `id:...`, `key:...`, `jwt:...`). */
  readonly client: string | undefined;
  /** How long a concurrency slot is held once admitted; 0 when the line does not say. */
  readonly durationMs: number;
}

export type ParsedLine = LogRequest | 'skip' | 'malformed';

/**
 * One JSON line: either an input line (`time`, `method`, `path`, and
 * `headers`/`key`/`ip`) or one of the gateway's own access lines (`time`,
 * `msg: "request"`, `client` label, `duration_ms`). Any other `msg` (startup,
 * reload, warnings without a request) is skipped. Never throws.
 */
export function parseLine(text: string): ParsedLine {
  const scanned = scanAccessLine(text);
  if (scanned !== undefined) return scanned;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'malformed';
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'malformed';
  const line = raw as Record<string, unknown>;
  if (line.msg !== undefined && line.msg !== 'request') return 'skip';
  const { method, path, client, ip, key } = line;
  if (typeof method !== 'string' || method === '' || typeof path !== 'string') return 'malformed';
  const time = timeOf(line.time);
  if (time === undefined) return 'malformed';
  if ((client !== undefined && typeof client !== 'string') || (ip !== undefined && typeof ip !== 'string') || (key !== undefined && typeof key !== 'string')) return 'malformed';
  const duration = line.duration_ms ?? 0;
  if (typeof duration !== 'number' || !(duration >= 0)) return 'malformed';
  let headers: Record<string, string | string[]> | undefined;
  if (line.headers !== undefined) {
    headers = headersOf(line.headers);
    if (headers === undefined) return 'malformed';
  }
  const host = typeof line.host === 'string' ? line.host : headers?.host;
  return { time, method: method.toUpperCase(), target: path, host: typeof host === 'string' ? host : '', headers, key, ip, client, durationMs: duration };
}

// What access-log.ts writeLine renders, field for field: pino's level and time, the logger's
// bindings (plain values), then its fields in its order, optional ones where it may leave them out.
// A JSON string body that needs no escape: no quote, backslash or control character.
const CHARS = '[^"\\\\\\u0000-\\u001f]*';
const STR = `"${CHARS}"`;
const NUM = '-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const ACCESS_LINE = new RegExp(
  `^\\{"level":\\d+,"time":(\\d+)(?:,"[A-Za-z_]+":(?:${STR}|${NUM}|true|false|null))*?,"reqId":${STR},"method":"([A-Z]+)","path":"(${CHARS})"` +
    `,"route":${STR}(?:,"upstream":${STR})?,"client":"(${CHARS})"(?:,"key_id":${STR})?(?:,"plan":${STR})?,"decision":"[a-z_]+"` +
    `(?:,"delayed_ms":${NUM})?,"status":\\d+,"duration_ms":(${NUM}),"msg":"request"\\}$`,
);

/**
 * The gateway's own access line, matched by one anchored regex instead of
 * JSON.parse, which costs more than the rest of a replay together (the line
 * has 14 fields; 5 matter). The pattern admits exactly the lines writeLine
 * renders without any escape (the common case: canonical paths and labels
 * need none), each one valid JSON; any other line (an escaped path, a warn
 * line with an `err`, an input line) returns undefined for JSON.parse.
 */
function scanAccessLine(text: string): LogRequest | undefined {
  const m = ACCESS_LINE.exec(text);
  if (m === null) return undefined;
  const duration = Number(m[5]);
  if (!(duration >= 0)) return undefined;
  return { time: Number(m[1]), method: m[2] as string, target: m[3] as string, host: '', headers: undefined, key: undefined, ip: undefined, client: m[4] as string, durationMs: duration };
}

/** Epoch ms as the gateway writes it, or an ISO 8601 string. */
function timeOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function headersOf(value: unknown): Record<string, string | string[]> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, string | string[]> = {};
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'))) out[name.toLowerCase()] = v as string | string[];
    else if (typeof v === 'number') out[name.toLowerCase()] = String(v);
    else return undefined;
  }
  return out;
}

/**
 * The lines of a file, read in 1 MiB chunks: a log may be far larger than
 * memory should hold, and a synchronous read keeps the replay loop free of
 * promise turns (readline costs several times more per line). Throws the
 * open error (ENOENT...) before yielding anything.
 */
export function* readLines(file: string): Generator<string> {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    // A multi-byte character may straddle two chunks.
    const decoder = new StringDecoder('utf8');
    let rest = '';
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const text = rest + decoder.write(buffer.subarray(0, n));
      let start = 0;
      for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
        yield text.slice(start, nl);
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
    if (rest !== '') yield rest;
  } finally {
    closeSync(fd);
  }
}
