import { GatewayError, type ErrorCode } from '../errors.js';

/** One thing wrong with a config file: the field path (`routes[1].rate_limit.burst`) and what is wrong. */
export interface ConfigProblem {
  readonly path: string;
  readonly message: string;
}

/** Every problem found in one config file, reported together so a user fixes them in one pass. */
export class ConfigError extends GatewayError {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(code: ErrorCode, file: string, problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    const lines = problems.map((p) => (p.path ? `  ${file}: ${p.path}: ${p.message}` : `  ${file}: ${p.message}`));
    super(code, `invalid config ${file}:\n${lines.join('\n')}`, options);
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}

/** `['routes', 1, 'burst']` -> `routes[1].burst` */
export function formatPath(segments: readonly (string | number)[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else out += out === '' ? s : `.${s}`;
  }
  return out;
}
