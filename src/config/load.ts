import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { load as loadYaml, CORE_SCHEMA, YAMLException } from 'js-yaml';
import { aliasProblem } from './aliases.js';
import { flowVariableHint, interpolate } from './interpolate.js';
import { validateApiKeyList, validateConfig } from './validate.js';
import { checkPolicies, resolveConfig, type RawConfig } from './defaults.js';
import { checkLimits } from './check-limits.js';
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
    // CORE_SCHEMA: plain data only (no custom tags); at most 100 aliases, and aliasProblem bounds what they expand to.
    doc = loadYaml(text, { filename: file, schema: CORE_SCHEMA, maxAliases: 100 });
  } catch (err) {
    if (err instanceof YAMLException) {
      const at = err.mark ? ` at line ${err.mark.line + 1}, column ${err.mark.column + 1}` : '';
      const hint = err.mark ? flowVariableHint(text.split('\n')[err.mark.line] ?? '') : undefined;
      const message = `YAML syntax error${at}: ${err.reason}${hint === undefined ? '' : `; ${hint}`}`;
      throw new ConfigError('TG_ERR_CONFIG_YAML', file, [{ path: '', message }], { cause: err });
    }
    throw err;
  }
  // Before any walk over the tree: interpolation and ajv would each expand every alias.
  const aliases = aliasProblem(doc);
  if (aliases !== undefined) throw new ConfigError('TG_ERR_CONFIG_YAML', file, [{ path: '', message: aliases }]);
  const problems: ConfigProblem[] = [];
  try {
    doc = interpolate(doc, env, problems);
  } catch (err) {
    throw new ConfigError('TG_ERR_CONFIG_INVALID', file, [{ path: '', message: (err as Error).message }], { cause: err });
  }
  problems.push(...validateConfig(doc));
  if (problems.length === 0) readSideFiles(doc as RawConfig, file, problems);
  if (env.LOG_LEVEL && !LOG_LEVELS.includes(env.LOG_LEVEL)) {
    problems.push({ path: 'LOG_LEVEL (environment)', message: `must be one of ${LOG_LEVELS.join(', ')}` });
  }
  // Missing limit fields are reported with the schema's problems, so one run names everything;
  // a document the schema refused may be any shape, so a check that trips over it reports nothing.
  problems.push(...whenReadable(() => checkPolicies(doc as RawConfig)));
  if (problems.length === 0) problems.push(...checkLimits(doc as RawConfig));
  if (problems.length > 0) throw new ConfigError('TG_ERR_CONFIG_INVALID', file, problems);
  return resolveConfig(doc as RawConfig, file, env);
}

/**
 * api_keys_file and jwt.public_key_file, read relative to the config file and
 * merged into the document (a copy: the parsed document is ours). Problems
 * name the side file and the entry.
 */
function readSideFiles(doc: RawConfig, file: string, problems: ConfigProblem[]): void {
  const dir = file === '<inline>' ? process.cwd() : dirname(file);
  const read = (at: string, name: string): string | undefined => {
    try {
      return readFileSync(resolve(dir, name), 'utf8');
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
      problems.push({ path: at, message: `cannot read ${resolve(dir, name)}: ${reason}` });
      return undefined;
    }
  };
  if (doc.api_keys_file !== undefined) {
    const text = read('api_keys_file', doc.api_keys_file);
    if (text !== undefined) {
      const at = `api_keys_file (${doc.api_keys_file})`;
      let list: unknown;
      try {
        list = loadYaml(text, { schema: CORE_SCHEMA, maxAliases: 100 }) ?? [];
      } catch (err) {
        problems.push({ path: at, message: `YAML syntax error: ${(err as YAMLException).reason ?? (err as Error).message}` });
      }
      const aliases = list === undefined ? undefined : aliasProblem(list);
      if (aliases !== undefined) {
        problems.push({ path: at, message: aliases });
        list = undefined;
      }
      const found = list === undefined ? [] : validateApiKeyList(list, at);
      problems.push(...found);
      if (list !== undefined && found.length === 0) doc.api_keys = [...(doc.api_keys ?? []), ...(list as NonNullable<RawConfig['api_keys']>)];
    }
  }
  const jwt = doc.jwt;
  if (jwt?.public_key_file !== undefined) {
    if (jwt.public_key !== undefined) problems.push({ path: 'jwt.public_key_file', message: 'cannot be combined with public_key' });
    const text = read('jwt.public_key_file', jwt.public_key_file);
    if (text !== undefined) doc.jwt = { ...jwt, public_key: text };
  }
}

function whenReadable(check: () => ConfigProblem[]): ConfigProblem[] {
  try {
    return check();
  } catch {
    return [];
  }
}
