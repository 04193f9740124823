#!/usr/bin/env node
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, parseConfig } from './config/load.js';
import { runPrimary } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { ConfigError } from './config/problems.js';
import type { GatewayConfig } from './config/types.js';
import { buildGateway } from './server.js';
import { closeOnSignals } from './lifecycle.js';
import { createLogger } from './observability/logging.js';
import { hashKey } from './limit/keys.js';
import { hashApiKey } from './limit/api-keys.js';
import { PROXIED_METHODS } from './config/defaults.js';
import { createReloader } from './gateway/reload.js';
import { watchConfigFile } from './gateway/config-watch.js';
import { runSimulate } from './admin/simulate-command.js';
import { EXPLAIN_HELP, runExplainCommand } from './admin/explain-command.js';
import { TRAFFIC_HELP, runTrafficCommand } from './adaptive/traffic/command.js';
import { editorSchemaText } from './config/editor-schema.js';
import { MIGRATE_HELP } from './keys/migrate-help.js';
import { describeLimit } from './limit/describe.js';

const HELP: Record<string, string> = {
  main: `throttlegate: a YAML-configured API gateway with per-client rate limiting

Usage:
  throttlegate serve    [--config FILE] [--port N] [--host H]   run the gateway
  throttlegate validate [--config FILE]                         check a config file
  throttlegate hash-key KEY                                     print an API key's log label and its api_keys hash
  throttlegate schema                                           print the config file's JSON Schema (for editors)
  throttlegate migrate  [--config FILE]                         create or update the key store's tables (PostgreSQL)
  throttlegate simulate [--config FILE] --log FILE [--json]     replay a request log against a config
  throttlegate explain  [--config FILE] METHOD PATH [--header K:V] [--ip A]
                                                                what the gateway would do with one request
  throttlegate traffic  --target URL [--duration 60s] [--seed N] [--json]
                                                                replay labelled simulated clients, report per class
  throttlegate traffic  --origin [--port N]                     serve the origin those clients expect

The config file is --config, else $THROTTLEGATE_CONFIG, else configs/config.yaml.
Run 'throttlegate <command> --help' for a command's options.`,
  serve: `Usage: throttlegate serve [--config FILE] [--port N] [--host H]

Serves the routes of FILE until SIGTERM or SIGINT, then drains in-flight requests.
SIGHUP, or saving FILE, reloads it without dropping a connection; an invalid
file is logged and changes nothing.
  --config FILE  config file (default: $THROTTLEGATE_CONFIG, else configs/config.yaml)
  --port N       listen port, overriding server.port
  --host H       listen address, overriding server.host
  LOG_LEVEL      overrides log.level`,
  validate: `Usage: throttlegate validate [--config FILE]

Checks FILE. Prints "config OK" and exits 0, or prints every problem found and exits 1.`,
  'hash-key': `Usage: throttlegate hash-key KEY

Prints two lines for API key KEY:
  key:<12 hex>     the label access logs show for requests carrying KEY when it is
                   not in api_keys, so a client's requests can be found without the
                   key ever being logged;
  sha256:<64 hex>  the value for api_keys' hash: field, so the config never holds KEY.`,
  schema: `Usage: throttlegate schema

Prints the JSON Schema (draft-07) of the config file: the validator's own schema,
widened so that \${VAR} and \${VAR:-default} are accepted where the environment
may fill a value. The repo ships it as throttlegate.schema.json; regenerate with
  throttlegate schema > throttlegate.schema.json
and point an editor at it with a first line such as
  # yaml-language-server: $schema=../throttlegate.schema.json
'throttlegate validate' still checks what a schema cannot (duplicate routes, limit fields).`,
  explain: EXPLAIN_HELP,
  migrate: MIGRATE_HELP,
  traffic: TRAFFIC_HELP,
  simulate: `Usage: throttlegate simulate [--config FILE] --log FILE [--json]

Replays the requests of FILE (JSON lines) against the config's routes and limits on
a virtual clock, and prints per route and limit set how many would be allowed,
delayed (on_limit), shadow-limited, refused (429), denied, refused 401, bypassed,
unlimited and unrouted, and the 10 clients refused most. Nothing is sent anywhere.
  --config FILE  config file (default: $THROTTLEGATE_CONFIG, else configs/config.yaml)
  --log FILE     the gateway's own access log, or lines of
                 {"time": <epoch ms or ISO>, "method", "path", "headers"?, "key"?, "ip"?, "duration_ms"?}
                 (lines with another "msg" are skipped; malformed ones counted and listed)
  --json         machine-readable output
Concurrency slots are held for a line's duration_ms (0 when absent).
Exits 0, or 1 when the config or the log cannot be read.`,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP.main);
    return command === undefined ? 1 : 0;
  }
  if (!(command in HELP) || command === 'main') {
    console.error(`throttlegate: unknown command "${command}"\n\n${HELP.main}`);
    return 1;
  }
  if (command === 'simulate') return simulate(rest);
  if (command === 'explain') return runExplainCommand(rest, process.env.THROTTLEGATE_CONFIG || 'configs/config.yaml');
  if (command === 'traffic') return runTrafficCommand(rest);
  if (command === 'schema') return printSchema(rest);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: command === 'hash-key',
      options: {
        config: { type: 'string', short: 'c' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(`throttlegate ${command}: ${(err as Error).message}\n\n${HELP[command]}`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP[command]);
    return 0;
  }
  if (command === 'hash-key') {
    if (positionals.length !== 1) {
      console.error(HELP['hash-key']);
      return 1;
    }
    console.log(`${hashKey(positionals[0] as string)}\n${hashApiKey(positionals[0] as string)}`);
    return 0;
  }
  const file = values.config ?? process.env.THROTTLEGATE_CONFIG ?? 'configs/config.yaml';
  // A worker of `server.workers` > 1: its config comes from the primary, never from the file.
  if (command === 'serve' && cluster.isWorker) {
    const flags = parsePortHost(values.port, values.host);
    if (flags === undefined) return 1;
    runWorker(flags);
    return -1;
  }
  let config: GatewayConfig;
  try {
    config = loadConfig(file);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  if (command === 'migrate') return (await import('./keys/migrate-command.js')).runMigrateCommand(file, config);
  if (command === 'validate') {
    console.log(`config OK: ${file} (${config.routes.length} routes)`);
    return 0;
  }
  return serve(file, config, values.port, values.host);
}

function parsePortHost(port: string | undefined, host: string | undefined): { port: number | undefined; host: string | undefined } | undefined {
  if (port === undefined) return { port: undefined, host };
  const portNumber = Number(port);
  if (!Number.isInteger(portNumber) || portNumber < 0 || portNumber > 65535) {
    console.error(`throttlegate serve: --port must be an integer 0-65535, got "${port}"`);
    return undefined;
  }
  return { port: portNumber, host };
}

async function serve(file: string, config: GatewayConfig, port: string | undefined, host: string | undefined): Promise<number> {
  const flags = parsePortHost(port, host);
  if (flags === undefined) return 1;
  // Workers re-run this CLI with the same arguments (node:cluster), so --port and --host reach them as they are.
  if (config.server.workers > 1) {
    const text = readFileSync(file, 'utf8');
    return runPrimary(file, text, parseConfig(text, file));
  }
  const portNumber = flags.port;
  const logger = createLogger(config.log.level);
  const gateway = await buildGateway(config, { logger, port: portNumber, host });
  // SIGHUP and edits of the file reload it; an invalid file changes nothing.
  const reload = createReloader(file, gateway, logger, gateway.metrics);
  process.on('SIGHUP', () => void reload('SIGHUP'));
  const stopWatching = watchConfigFile(file, () => void reload('file change'), logger);
  closeOnSignals(gateway, logger, config.server.shutdownGraceMs, stopWatching);
  try {
    const url = await gateway.listen();
    logger.info(
      {
        url,
        ...(gateway.adminUrl === undefined ? {} : { admin: gateway.adminUrl }),
        config: config.file,
        routes: config.routes.map((r) => ({
          path: r.path,
          ...(r.host === null ? {} : { host: r.host }),
          ...(r.methods.length === PROXIED_METHODS.length ? {} : { methods: r.methods }),
          upstream: r.upstream.targets.length === 1 ? r.upstreamOrigin + r.upstreamPath : r.upstream.targets.map((t) => t.url),
          strip_prefix: r.stripPrefix,
          limit: r.policy ? r.policy.limits.map(describeLimit).join(' + ') : 'none',
        })),
      },
      `throttlegate listening on ${url}`,
    );
    logger.flush(); // stdout is buffered; whoever waits for this line should see it now
  } catch (err) {
    logger.error({ err }, `cannot listen: ${(err as Error).message}`);
    await gateway.close();
    return 1;
  }
  return -1; // keep running until a signal
}

/** `schema` takes no flags but --help, so a stray --config is an error rather than ignored. */
function printSchema(args: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`throttlegate schema: ${(err as Error).message}\n\n${HELP.schema}`);
    return 1;
  }
  if (values.help) {
    console.log(HELP.schema);
    return 0;
  }
  process.stdout.write(editorSchemaText());
  return 0;
}

/** `simulate` parses its own flags, so --log and --json stay out of the other commands. */
function simulate(args: string[]): number {
  let values;
  try {
    ({ values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' }, log: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`throttlegate simulate: ${(err as Error).message}\n\n${HELP.simulate}`);
    return 1;
  }
  if (values.help) {
    console.log(HELP.simulate);
    return 0;
  }
  return runSimulate({ config: values.config ?? process.env.THROTTLEGATE_CONFIG ?? 'configs/config.yaml', log: values.log, json: values.json === true });
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`throttlegate: ${(err as Error).message ?? String(err)}`);
    process.exitCode = 1;
  },
);
