import { load as loadYaml, CORE_SCHEMA } from 'js-yaml';
import { formatPath, type ConfigProblem } from './problems.js';

// ${NAME} or ${NAME:-default}; `$${` escapes a literal `${`.
const VARIABLE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const WHOLE_VARIABLE = /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/;

/**
 * Replaces `${VAR}` / `${VAR:-default}` in every string value with the
 * environment's value, returning a new tree (the input is not changed). A value
 * that is exactly one variable is re-read as a YAML scalar, so `port: ${PORT:-8080}`
 * yields the number 8080 as if it had been written in the file.
 */
export function interpolate(
  doc: unknown,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
): unknown {
  // load.ts has refused recursive aliases and alias bombs (aliases.ts): this walk is bounded.
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (typeof value === 'string') return substitute(value, env, path, problems);
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        // defineProperty keeps a literal `__proto__` key an ordinary (and, to the schema, unknown) key.
        Object.defineProperty(out, k, { value: walk(v, [...path, k]), enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
    return value;
  };
  return walk(doc, []);
}

function substitute(
  text: string,
  env: NodeJS.ProcessEnv,
  path: (string | number)[],
  problems: ConfigProblem[],
): unknown {
  if (!text.includes('${')) return text;
  const replaced = text.replace(VARIABLE, (match, name: string | undefined, fallback: string | undefined) => {
    if (name === undefined) return '${'; // the `$${` escape
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    if (fallback !== undefined) return fallback;
    problems.push({ path: formatPath(path), message: `environment variable ${name} is not set and has no default` });
    return match;
  });
  if (!WHOLE_VARIABLE.test(text)) return replaced;
  try {
    const scalar = loadYaml(replaced, { schema: CORE_SCHEMA });
    return scalar === null || typeof scalar === 'object' ? replaced : scalar;
  } catch {
    return replaced;
  }
}

// Quoted scalars on one line: a `${` inside one is no flow-collection trouble.
const QUOTED = /"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'/g;

/**
 * The advice to add to a YAML syntax error whose line holds an unquoted
 * `${VAR}`. Outside a flow collection an unquoted `${VAR}` parses; inside
 * `{ ... }` or `[ ... ]` YAML reads its `{` as a nested mapping and reports
 * only "missed comma between flow collection entries" or the like.
 */
export function flowVariableHint(line: string): string | undefined {
  if (!line.replace(QUOTED, '').includes('${')) return undefined;
  return 'a ${VAR} inside a flow collection ({ ... } or [ ... ]) must be quoted: write port: "${PORT}" (a quoted variable still yields a number)';
}
