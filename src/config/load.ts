import { readFileSync } from 'node:fs';
import { load as loadYaml, CORE_SCHEMA, YAMLException } from 'js-yaml';
import { interpolate } from './interpolate.js';
import { validateConfig } from './validate.js';
import { checkPolicies, resolveConfig, type RawConfig } from './defaults.js';
import { ConfigError, type ConfigProblem } from './problems.js';
import type { GatewayConfig } from './types.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A config file larger than this is refused before parsing. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/** Reads, interpolates, validates and resolves one config file. Throws ConfigError naming the file and fields. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    const bytes = readFileSync(file);
    if (bytes.length > MAX_CONFIG_BYTES) {
      throw new ConfigError('TG_ERR_CONFIG_READ', file, [{ path: '', message: `is larger than ${MAX_CONFIG_BYTES} bytes` }]);
    }
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
    throw new ConfigError('TG_ERR_CONFIG_READ', file, [{ path: '', message: `cannot read: ${reason}` }], { cause: err });
  }
  return parseConfig(text, file, env);
}

/** The same pipeline as loadConfig, on text already in memory. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let doc: unknown;
  try {
    // CORE_SCHEMA: plain data only (no custom tags); aliases capped against expansion bombs.
    doc = loadYaml(text, { filename: file, schema: CORE_SCHEMA, maxAliases: 100 });
  } catch (err) {
    if (err instanceof YAMLException) {
      const at = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
      throw new ConfigError('TG_ERR_CONFIG_YAML', file, [{ path: '', message: `YAML syntax error${at}: ${err.reason}` }], { cause: err });
    }
    throw err;
  }
  const problems: ConfigProblem[] = [];
  try {
    doc = interpolate(doc, env, problems);
  } catch (err) {
    throw new ConfigError('TG_ERR_CONFIG_INVALID', file, [{ path: '', message: (err as Error).message }], { cause: err });
  }
  problems.push(...validateConfig(doc));
  if (env.LOG_LEVEL && !LOG_LEVELS.includes(env.LOG_LEVEL)) {
    problems.push({ path: 'LOG_LEVEL (environment)', message: `must be one of ${LOG_LEVELS.join(', ')}` });
  }
  if (problems.length === 0) problems.push(...checkPolicies(doc as RawConfig));
  if (problems.length > 0) throw new ConfigError('TG_ERR_CONFIG_INVALID', file, problems);
  return resolveConfig(doc as RawConfig, file, env);
}
