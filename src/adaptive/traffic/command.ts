/**
 * `throttlegate traffic`: replay labelled simulated clients against a gateway
 * and report what it did to each class (issue 17, "Proof: labelled traffic"),
 * or, with --origin, serve the bundled origin those clients expect behind it.
 */
import { parseArgs } from 'node:util';
import { parseDuration } from '../../config/duration.js';
import { DEFAULT_MIX } from './mix.js';
import { startOrigin } from './origin-server.js';
import { formatReport, reportJson } from './report.js';
import { MAX_DURATION_MS, runTraffic } from './runner.js';

export const TRAFFIC_HELP = `Usage: throttlegate traffic --target URL [--mix default] [--duration 60s] [--seed N] [--speed X] [--json] [--allow-remote]
       throttlegate traffic --origin [--port N] [--host H]

Replays a seeded mix of labelled simulated clients (40 browsers, 15 mobile apps,
2 batch jobs: good; 4 scrapers, 3 credential stuffers, 3 404 scanners,
3 slow enumerators: bad) against the gateway at URL in real time, then prints
per class the requests refused (429) and blocked (403) and when the class was
first throttled, and per client the precision and recall of "acted on" (got a
403 or 429) against the labels, bad = positive. Same seed, same requests.

Each simulated client's address is sent as X-Forwarded-For (a TCP source
address cannot be chosen from 127.0.0.1), so the gateway must run with
  server: { trust_proxy: 1 }     (or a list that includes 127.0.0.1)
for it to tell the clients apart; without it all of them share 127.0.0.1.
Route / of the gateway to the bundled origin (--origin) for the answers the
labels assume: 401 for a wrong login, 404 outside its API, 200 otherwise.

  --target URL     the gateway's base URL; a loopback address unless --allow-remote
  --mix NAME       the client mix (only "default" for now)
  --duration D     generated time to replay: 60s (default), 500ms, 2m; at most 1h
  --seed N         the generator's seed (default 1)
  --speed X        replay X times faster, e.g. 2 halves every delay (default 1, at most 100);
                   times in the report stay in generated seconds
  --json           print the report as JSON
  --allow-remote   send to a target that is not this machine
  --origin         serve the bundled origin until SIGTERM or SIGINT; prints
                   "origin listening on http://HOST:PORT" once ready
  --port N         the origin's port (default 0: a free one)
  --host H         the origin's address (default 127.0.0.1)
Requests go over at most 32 connections, 256 outstanding, 200 000 in all.
Exits 0 after a run, 1 on bad arguments or an unreachable target.`;

/** Parses --duration: a config-style duration (60s, 500ms, 2m) or a bare number of seconds. */
export function parseRunDuration(text: string): number {
  const ms = /^[0-9]+(\.[0-9]+)?$/.test(text) ? Math.round(Number(text) * 1000) : parseDuration(text);
  if (ms > MAX_DURATION_MS) throw new RangeError(`--duration must be at most 1h, got ${text}`);
  return ms;
}

function number(name: string, text: string | undefined, fallback: number, ok: (n: number) => boolean): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (text.trim() === '' || !ok(n)) throw new RangeError(`--${name}: invalid value "${text}"`);
  return n;
}

/** Runs the command; resolves to the exit code, or -1 when the origin keeps running. */
export async function runTrafficCommand(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        target: { type: 'string' },
        mix: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        speed: { type: 'string' },
        json: { type: 'boolean' },
        'allow-remote': { type: 'boolean' },
        origin: { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`throttlegate traffic: ${(err as Error).message}\n\n${TRAFFIC_HELP}`);
    return 1;
  }
  if (values.help) {
    console.log(TRAFFIC_HELP);
    return 0;
  }
  try {
    if (values.origin) {
      if (values.target !== undefined) throw new RangeError('--origin and --target are two separate runs');
      return await serveOrigin(number('port', values.port, 0, (n) => Number.isInteger(n) && n >= 0 && n <= 65535), values.host ?? '127.0.0.1');
    }
    if (values.target === undefined) throw new RangeError('--target URL (or --origin) is required');
    if ((values.mix ?? 'default') !== 'default') throw new RangeError(`--mix: unknown mix "${values.mix}" (only "default")`);
    const options = {
      target: values.target,
      mix: DEFAULT_MIX,
      durationMs: parseRunDuration(values.duration ?? '60s'),
      seed: number('seed', values.seed, 1, Number.isSafeInteger),
      speed: number('speed', values.speed, 1, (n) => n > 0 && n <= 100),
      allowRemote: values['allow-remote'] === true,
    };
    const run = await runTraffic(options);
    if (run.report.requests > 0 && run.report.errors === run.report.requests) {
      console.error(`throttlegate traffic: no request to ${values.target} got an answer`);
      return 1;
    }
    if (values.json) {
      const { target, seed, durationMs, speed } = options;
      const timing = { max_lag_ms: Math.round(run.maxLagMs), wall_ms: Math.round(run.wallMs) };
      console.log(JSON.stringify({ target, mix: 'default', seed, duration_ms: durationMs, speed, ...reportJson(run.report), ...timing }));
    } else {
      console.log(`${formatReport(run.report)}\nreplayed in ${(run.wallMs / 1000).toFixed(1)} s; at worst ${Math.round(run.maxLagMs)} ms behind schedule`);
    }
    return 0;
  } catch (err) {
    console.error(`throttlegate traffic: ${(err as Error).message}`);
    return 1;
  }
}

/** Serves the bundled origin until SIGTERM or SIGINT. */
async function serveOrigin(port: number, host: string): Promise<number> {
  const origin = await startOrigin({ port, host });
  console.log(`origin listening on ${origin.url}`);
  const stop = (): void => {
    void origin.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return -1;
}
