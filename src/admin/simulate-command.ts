import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/problems.js';
import type { GatewayConfig } from '../config/types.js';
import { simulateFile, type SimulationReport } from './simulate.js';
import { formatReport } from './simulate-report.js';

export interface SimulateArgs {
  readonly config: string;
  readonly log: string | undefined;
  readonly json: boolean;
}

/**
 * `throttlegate simulate`: loads the config as `validate` does (its errors
 * name the file and field), replays the log, prints the table or JSON.
 * Returns the exit code: 0, or 1 with one clear line for a missing or
 * invalid config or log file. Malformed lines are reported, not fatal.
 */
export function runSimulate(args: SimulateArgs, out: (text: string) => void = console.log, err: (text: string) => void = console.error): number {
  if (args.log === undefined) {
    err('throttlegate simulate: --log FILE is required (JSON lines: the gateway access log, or {time, method, path, headers|key|ip})');
    return 1;
  }
  let config: GatewayConfig;
  try {
    config = loadConfig(args.config);
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message);
      return 1;
    }
    throw e;
  }
  let report: SimulationReport;
  try {
    report = simulateFile(config, args.log);
  } catch (e) {
    // Only a failed read of the file is the user's to fix; anything else is a bug and keeps its stack.
    if ((e as NodeJS.ErrnoException).syscall === undefined) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    err(`throttlegate simulate: cannot read log ${args.log}: ${reason}`);
    return 1;
  }
  out(args.json ? JSON.stringify(report, null, 2) : formatReport(report, args.log));
  return 0;
}
