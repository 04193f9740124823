import { Ajv, type ErrorObject } from 'ajv';
import { checkPlainUrl } from './url-check.js';
import { apiKeySchema, configSchema } from './schema.js';
import type { ConfigProblem } from './problems.js';
import { upstreamPathOf } from './defaults.js';
import { checkAdaptive } from '../adaptive/config.js';
import { checkTracing } from '../tracing/config.js';
import { checkKeyStore } from '../keys/config.js';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateSchema = ajv.compile(configSchema);
const validateKeyList = ajv.compile({ type: 'array', items: apiKeySchema });

/** Paths the gateway answers itself; a route may not take them. */
export const RESERVED_PATHS = ['/health', '/ready', '/metrics'] as const;

/** Schema check plus the rules a schema cannot say (duplicates, URL shape). Returns every problem found. */
export function validateConfig(doc: unknown): ConfigProblem[] {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    return [{ path: '', message: 'must be a YAML mapping with a `routes` list' }];
  }
  const problems = validateSchema(doc) ? [] : describeSchemaErrors(validateSchema.errors ?? []);
  // Checked even when the schema failed, so one run reports everything.
  const routes = (doc as { routes?: unknown }).routes;
  if (Array.isArray(routes)) problems.push(...checkRoutes(routes));
  problems.push(...checkAdaptive((doc as { adaptive?: unknown }).adaptive));
  problems.push(...checkTracing((doc as { tracing?: unknown }).tracing));
  problems.push(...checkKeyStore(doc as { key_store?: unknown; api_keys?: unknown; api_keys_file?: unknown }));
  return problems;
}

/** The entries of an api_keys_file; paths are prefixed with `at` (which names the file). */
export function validateApiKeyList(doc: unknown, at: string): ConfigProblem[] {
  if (validateKeyList(doc)) return [];
  return describeSchemaErrors(validateKeyList.errors ?? []).map((p) => ({ path: p.path ? `${at}${p.path.startsWith('[') ? '' : '.'}${p.path}` : at, message: p.message }));
}

function checkRoutes(routes: unknown[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen: { at: string; route: RouteShape }[] = [];
  routes.forEach((route, i) => {
    if (!isRouteShape(route)) return;
    const at = `routes[${i}]`;
    const clash = seen.find((s) => overlaps(s.route, route));
    if (clash !== undefined) problems.push({ path: `${at}.path`, message: `duplicates ${clash.at}.path "${route.path}"${clashDetail(route)}` });
    else seen.push({ at, route });
    if (route.path.split('/').some((s) => s === '.' || s === '..')) {
      problems.push({ path: `${at}.path`, message: 'must not contain "." or ".." segments' });
    }
    if ((RESERVED_PATHS as readonly string[]).includes(route.path)) {
      problems.push({ path: `${at}.path`, message: `"${route.path}" is reserved for the gateway's own endpoint` });
    }
    if (route.rewrite !== undefined && route.strip_prefix === true) {
      problems.push({ path: `${at}.rewrite`, message: 'cannot be combined with strip_prefix: true (rewrite already replaces the prefix)' });
    }
    problems.push(...checkUpstreams(route.upstream, `${at}.upstream`));
  });
  return problems;
}

interface RouteShape {
  path: string;
  host?: unknown;
  methods?: unknown;
  upstream?: unknown;
  rewrite?: unknown;
  strip_prefix?: unknown;
}

function isRouteShape(r: unknown): r is RouteShape {
  return r !== null && typeof r === 'object' && typeof (r as { path?: unknown }).path === 'string';
}

/** Two routes clash when one request could match both: same path and host, and a method in common. */
function overlaps(a: RouteShape, b: RouteShape): boolean {
  if (a.path !== b.path) return false;
  const hostOf = (r: RouteShape) => (typeof r.host === 'string' ? r.host.toLowerCase() : null);
  if (hostOf(a) !== hostOf(b)) return false;
  if (!Array.isArray(a.methods) || !Array.isArray(b.methods)) return true;
  return a.methods.some((m) => (b.methods as unknown[]).includes(m));
}

function clashDetail(r: RouteShape): string {
  const parts = [typeof r.host === 'string' ? `host ${r.host}` : '', Array.isArray(r.methods) ? `methods ${r.methods.join(',')}` : ''];
  const detail = parts.filter(Boolean).join(', ');
  return detail ? ` (${detail}; give routes on one path different hosts or disjoint methods)` : '';
}

/** The URL checks of `upstream:` and of each pool target, and that a pool's targets share one path. */
function checkUpstreams(upstream: unknown, at: string): ConfigProblem[] {
  if (typeof upstream === 'string') return /^https?:\/\//.test(upstream) ? checkPlainUrl(upstream, at) : [];
  const targets = (upstream as { targets?: unknown } | null)?.targets;
  if (!Array.isArray(targets)) return [];
  const problems: ConfigProblem[] = [];
  const paths = new Map<string, number>();
  targets.forEach((t, j) => {
    const url = (t as { url?: unknown } | null)?.url;
    if (typeof url !== 'string' || !/^https?:\/\//.test(url)) return;
    const found = checkPlainUrl(url, `${at}.targets[${j}].url`);
    problems.push(...found);
    if (found.length > 0) return;
    const path = upstreamPathOf(new URL(url));
    const first = [...paths.values()][0];
    if (first !== undefined && !paths.has(path)) {
      problems.push({ path: `${at}.targets[${j}].url`, message: `has path "${path || '/'}" but targets[${first}] has "${[...paths.keys()][0] || '/'}": a pool's targets must share one path` });
    }
    if (!paths.has(path)) paths.set(path, j);
  });
  return problems;
}


function describeSchemaErrors(errors: ErrorObject[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const seen = new Set<string>();
  const push = (p: ConfigProblem) => {
    const line = `${p.path}\u0000${p.message}`;
    if (!seen.has(line)) {
      seen.add(line);
      problems.push(p);
    }
  };
  // An anyOf reports every failed branch. A branch that failed only on type is
  // noise; a deeper error (an unknown key inside the object branch) is the news.
  const anyOfs = errors.filter((e) => e.keyword === 'anyOf');
  const explained = new Set<ErrorObject>();
  for (const e of errors) {
    if (e.keyword === 'anyOf') continue;
    const parent = anyOfs.find((a) => e.schemaPath.startsWith(`${a.schemaPath}/`) && e.instancePath.startsWith(a.instancePath));
    if (parent && e.instancePath === parent.instancePath && (e.keyword === 'type' || e.keyword === 'const')) continue;
    if (parent) explained.add(parent);
    push(describe(e));
  }
  for (const a of anyOfs) if (!explained.has(a)) push(describe(a));
  return problems;
}

function describe(e: ErrorObject): ConfigProblem {
  const base = pointerToPath(e.instancePath);
  const join = (child: string) => (base ? `${base}.${child}` : child);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: join(String(p.additionalProperty)), message: 'unknown key' };
    case 'required':
      return { path: join(String(p.missingProperty)), message: 'is required' };
    case 'pattern':
      return { path: base, message: patternMessage(e) };
    case 'type':
      return { path: base, message: isDurationField(e.instancePath) ? DURATION_HINT : e.message ?? 'is invalid' };
    case 'enum':
      return { path: base, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
    case 'anyOf':
      return { path: base, message: anyOfMessage(e) };
    default:
      return { path: base, message: e.message ?? 'is invalid' };
  }
}

const DURATION_HINT = 'must be a duration such as 500ms, 10s, 1m, 1h or 1d';
const isDurationField = (pointer: string): boolean => /\/(interval|timeout|eject_for|window|open_for)$/.test(pointer);

function patternMessage(e: ErrorObject): string {
  const at = e.instancePath;
  if (at.endsWith('/path')) return 'must start with "/" and be a canonical path (no "//", "%", spaces or trailing "/")';
  if (at === '/key_store/postgres/url') return 'must be a postgres:// or postgresql:// URL';
  if (at.endsWith('/upstream') || at.endsWith('/url')) return 'must be an absolute http:// or https:// URL';
  if (at.endsWith('/host')) return 'must be a host name (example.com) or a wildcard (*.example.com)';
  if (isDurationField(at)) return DURATION_HINT;
  if (at.endsWith('/health_check/path')) return 'must start with "/"';
  if (/\/key\/\d+$/.test(at)) return 'must be "ip" or "header:<name>"';
  if (at.includes('/redis/url')) return 'must be a redis:// or rediss:// URL';
  return `must match ${String((e.params as { pattern: string }).pattern)}`;
}

function anyOfMessage(e: ErrorObject): string {
  if (e.instancePath.endsWith('/trust_proxy')) return 'must be true, false, a hop count >= 1, or a list of addresses/CIDRs';
  if (e.instancePath.endsWith('/redis/url')) return 'must be a redis:// URL or a list of them (Redis Cluster seed nodes)';
  if (e.instancePath.endsWith('/upstream')) return 'must be an http(s) URL or a pool mapping (targets, balance, health_check, passive, retries, circuit_breaker)';
  if (e.instancePath.endsWith('/rate_limit')) return 'must be false or a mapping of requests_per_second, burst, key, headers';
  if (e.instancePath.endsWith('/unverified_key_envelope')) return 'must be false or { multiplier: N } (an integer >= 1)';
  return e.message ?? 'is invalid';
}

/** `/routes/1/rate_limit/burst` -> `routes[1].rate_limit.burst` */
function pointerToPath(pointer: string): string {
  if (!pointer) return '';
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((out, s) => (/^\d+$/.test(s) ? `${out}[${s}]` : out ? `${out}.${s}` : s), '');
}
