import type { ConfigProblem } from './problems.js';
import type { RawConfig } from './defaults.js';
import { effectiveLimits, LIMIT_FIELDS, ownLimits, parseCidr, POLICY_DEFAULTS, type RawLimit, type RawRateLimit } from './policies.js';
import { createJwtVerifier } from '../limit/jwt.js';
import { parseDuration } from './duration.js';

const FIELDS_OF = {
  token_bucket: ['requests_per_second', 'burst'],
  gcra: ['requests_per_second', 'burst'],
  fixed_window: ['limit', 'window'],
  sliding_window: ['limit', 'window'],
  concurrency: ['limit', 'lease'],
} as const;
// The shape of an api_keys id (config/schema.ts): what an allow/deny entry naming a store key looks like.
const STORE_KEY_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const OPTIONAL = new Set(['algorithm', 'scope', 'mode', 'lease']);

/**
 * The rules of limits, plans, keys and access lists that a schema cannot
 * say: which fields each algorithm takes, that a route's cost fits every
 * limit, that api keys name real plans, that references resolve. Runs on a
 * document the schema has accepted.
 */
export function checkLimits(raw: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const policyBlocks: [string, RawRateLimit][] = [];
  if (raw.rate_limit) policyBlocks.push(['rate_limit', raw.rate_limit]);
  raw.routes.forEach((r, i) => r.rate_limit && policyBlocks.push([`routes[${i}].rate_limit`, r.rate_limit]));
  for (const [at, block] of policyBlocks) problems.push(...checkBlock(at, block));
  for (const [name, plan] of Object.entries(raw.plans ?? {})) plan.limits.forEach((l, j) => problems.push(...checkLimit(`plans.${name}.limits[${j}]`, l, true)));
  problems.push(...checkKeys(raw), ...checkJwt(raw), ...checkRoutes(raw), ...checkAdmin(raw));
  return problems;
}

function checkBlock(at: string, block: RawRateLimit): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (block.limits) {
    for (const field of LIMIT_FIELDS) {
      if (block[field] !== undefined) problems.push({ path: `${at}.${field}`, message: 'cannot be combined with limits: (put it on an entry of the list)' });
    }
    block.limits.forEach((l, j) => problems.push(...checkLimit(`${at}.limits[${j}]`, l, true)));
  } else {
    const own = ownLimits(block);
    if (own) problems.push(...checkLimit(at, own[0] as RawLimit, false));
  }
  if (block.on_limit && (ownLimits(block) ?? []).some((l) => l.algorithm === 'concurrency')) {
    problems.push({ path: `${at}.on_limit`, message: 'does not apply to concurrency limits (time does not free a slot)' });
  }
  return problems;
}

/** Fields that do not belong to the limit's algorithm; missing ones too for a complete limit (a list entry). */
function checkLimit(at: string, limit: RawLimit, complete: boolean): ConfigProblem[] {
  const algorithm = limit.algorithm ?? 'token_bucket';
  const takes: readonly string[] = FIELDS_OF[algorithm];
  const problems: ConfigProblem[] = [];
  for (const field of LIMIT_FIELDS) {
    if (limit[field] === undefined || (OPTIONAL.has(field) && field !== 'lease')) continue;
    if (!takes.includes(field)) problems.push({ path: `${at}.${field}`, message: `does not apply to ${algorithm} (it takes ${takes.join(', ')})` });
  }
  if (complete) {
    for (const field of takes) {
      if (!OPTIONAL.has(field) && limit[field as keyof RawLimit] === undefined) problems.push({ path: `${at}.${field}`, message: `is required for ${algorithm}` });
    }
  }
  if (limit.window !== undefined && parseDuration(limit.window) < 1) problems.push({ path: `${at}.window`, message: 'must be at least 1ms' });
  return problems;
}

function checkKeys(raw: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const ids = new Map<string, number>();
  const hashes = new Map<string, number>();
  (raw.api_keys ?? []).forEach((k, i) => {
    const at = `api_keys[${i}]`;
    const hash = k.hash.toLowerCase();
    if (ids.has(k.id)) problems.push({ path: `${at}.id`, message: `duplicates api_keys[${ids.get(k.id)}].id "${k.id}"` });
    if (hashes.has(hash)) problems.push({ path: `${at}.hash`, message: `duplicates api_keys[${hashes.get(hash)}].hash (two ids for one key)` });
    ids.set(k.id, i);
    hashes.set(hash, i);
    if (k.plan !== undefined && raw.plans?.[k.plan] === undefined) {
      problems.push({ path: `${at}.plan`, message: `"${k.plan}" is not a plan (plans: ${Object.keys(raw.plans ?? {}).join(', ') || 'none'})` });
    }
  });
  // With key_store postgres the ids are data, not known here: an entry that is no address names a store key's id.
  const storeIds = raw.key_store?.type === 'postgres';
  const access = (at: string, entries: string[] | undefined) =>
    entries?.forEach((e, j) => {
      if (!ids.has(e) && parseCidr(e) === undefined && !(storeIds && STORE_KEY_ID.test(e))) problems.push({ path: `${at}[${j}]`, message: `"${e}" is neither an address or CIDR nor an api_keys id` });
    });
  access('allow', raw.allow);
  access('deny', raw.deny);
  raw.routes.forEach((r, i) => {
    access(`routes[${i}].allow`, r.allow);
    access(`routes[${i}].deny`, r.deny);
  });
  return problems;
}

function checkJwt(raw: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const jwt = raw.jwt;
  const keyLists: [string, string[] | undefined][] = [['rate_limit.key', raw.rate_limit?.key]];
  raw.routes.forEach((r, i) => keyLists.push([`routes[${i}].rate_limit.key`, r.rate_limit ? r.rate_limit.key : undefined]));
  for (const [at, keys] of keyLists) {
    keys?.forEach((k, j) => {
      if (k.startsWith('jwt:') && !jwt) problems.push({ path: `${at}[${j}]`, message: 'jwt: key sources need a top-level jwt section (algorithm and key)' });
    });
  }
  if (!jwt) return problems;
  const hmac = jwt.algorithm === 'HS256';
  if (hmac && jwt.secret === undefined) problems.push({ path: 'jwt.secret', message: 'is required for HS256' });
  if (hmac && jwt.public_key !== undefined) problems.push({ path: 'jwt.public_key', message: 'does not apply to HS256 (it takes secret)' });
  if (!hmac && jwt.public_key === undefined) problems.push({ path: 'jwt.public_key', message: `or public_key_file is required for ${jwt.algorithm}` });
  if (!hmac && jwt.secret !== undefined) problems.push({ path: 'jwt.secret', message: `does not apply to ${jwt.algorithm} (it takes public_key or public_key_file)` });
  if (problems.length > 0) return problems;
  try {
    createJwtVerifier({ algorithm: jwt.algorithm, secret: jwt.secret, publicKey: jwt.public_key });
  } catch (err) {
    problems.push({ path: jwt.public_key_file ? 'jwt.public_key_file' : hmac ? 'jwt.secret' : 'jwt.public_key', message: (err as Error).message });
  }
  return problems;
}

function checkRoutes(raw: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const keysConfigured = (raw.api_keys ?? []).length > 0 || raw.key_store?.type === 'postgres';
  raw.routes.forEach((r, i) => {
    const at = `routes[${i}]`;
    const block = r.rate_limit === false ? undefined : (r.rate_limit ?? raw.rate_limit);
    // The sources the limit hook reads (route.identity): a route's own, else the default policy's; none after `ip` is ever tried.
    const listed: readonly string[] = (r.rate_limit ? r.rate_limit.key : undefined) ?? raw.rate_limit?.key ?? POLICY_DEFAULTS.key;
    const keySources = listed.includes('ip') ? listed.slice(0, listed.indexOf('ip')) : listed;
    const jwtSource = keySources.some((k) => k.startsWith('jwt:'));
    if (r.require_api_key && !keysConfigured && !jwtSource) {
      problems.push({ path: `${at}.require_api_key`, message: `needs api_keys, key_store.type postgres or a jwt: key source to check clients against` });
    } else if (r.require_api_key && !jwtSource && !keySources.some((k) => k.startsWith('header:') || k.startsWith('query:'))) {
      problems.push({ path: `${at}.require_api_key`, message: `no key source before ip can carry an API key (key: [${listed.join(', ')}]), so every request would get 401` });
    }
    const cost = r.cost ?? 1;
    if (cost === 1 || block === undefined) return;
    const limits = [
      ...(r.rate_limit ? effectiveLimits(r.rate_limit, raw.rate_limit) : ownLimits(raw.rate_limit ?? {}) ?? []).map((l) => ['this route', l] as const),
      ...Object.entries(raw.plans ?? {}).flatMap(([name, p]) => p.limits.map((l) => [`plan ${name}`, l] as const)),
    ];
    for (const [owner, l] of limits) {
      const capacity = l.algorithm === 'concurrency' ? Infinity : (l.burst ?? l.limit ?? Infinity);
      if (cost > capacity) problems.push({ path: `${at}.cost`, message: `is ${cost}, more than a limit of ${owner} can ever allow (${capacity})` });
    }
  });
  return problems;
}

function checkAdmin(raw: RawConfig): ConfigProblem[] {
  const admin = raw.admin;
  if (!admin) return [];
  if (admin.token === undefined && admin.tokens === undefined) return [{ path: 'admin.token', message: 'is required (or tokens): every admin call needs a bearer token' }];
  const ids = new Set<string>(admin.token === undefined ? [] : ['admin']);
  const problems: ConfigProblem[] = [];
  admin.tokens?.forEach((t, i) => {
    if (ids.has(t.id)) problems.push({ path: `admin.tokens[${i}].id`, message: `"${t.id}" is used twice` });
    ids.add(t.id);
  });
  const port = raw.server?.port ?? 8080;
  if (admin.port !== undefined && admin.port !== 0 && admin.port === port) problems.push({ path: 'admin.port', message: `is the gateway's own port (${port}): the admin API needs a listener of its own` });
  return problems;
}
