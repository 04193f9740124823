/**
 * What the bundled origin answers, as a pure function of a generated request.
 * A real origin would check the password in the login body; the generator
 * knows instead which clients hold real credentials (browsers, who mistype
 * now and then) and which guess (stuffers, who rarely hit), and decides each
 * attempt by a hash of the request, so the answer is the same every run. The
 * `traffic` command writes a body with a right or wrong password from it, and
 * the bundled origin (origin-server.ts) answers by originAnswer from the
 * request alone, so both agree without the origin seeing a label.
 */
import { PARAMS, MAX_ITEM_ID, type TrafficEvent } from './classes.js';
import { hash01 } from './prng.js';

/** The origin's API: these paths answer 200 (items by id are checked separately). */
export const KNOWN_PATHS: ReadonlySet<string> = new Set([
  '/robots.txt',
  '/api/login',
  '/api/me',
  '/api/items',
  '/api/search',
  '/api/categories',
  '/api/cart',
  '/api/orders',
  '/api/sync',
]);

const ITEM = /^\/api\/items\/(\d{1,9})$/;

/** Whether the origin has this path (a known path, or an item 1..MAX_ITEM_ID). */
export function isKnownPath(path: string): boolean {
  if (KNOWN_PATHS.has(path)) return true;
  const id = ITEM.exec(path)?.[1];
  return id !== undefined && Number(id) >= 1 && Number(id) <= MAX_ITEM_ID;
}

/** Whether this login attempt carries the right password. */
export function loginSucceeds(event: TrafficEvent): boolean {
  const toss = hash01(`${event.client}|${event.at}|${event.apiKey ?? ''}|${event.ip}`);
  switch (event.cls) {
    case 'stuffer':
      return toss < PARAMS.stuffer.hitShare;
    case 'browser':
      return toss >= PARAMS.browser.loginTypo;
    default:
      // Other classes never log in; scanners probing the login path send no credentials.
      return event.cls !== 'scanner';
  }
}

/**
 * The one password the bundled origin accepts. The `traffic` command sends it
 * in a login body when loginSucceeds says the attempt is right, a wrong one
 * otherwise, so the origin decides from the request alone, never the label.
 */
export const LOGIN_PASSWORD = 'correct-horse-battery-staple';

/**
 * What the origin answers a request, from the request alone: 404 for paths
 * outside the known API, 401 for a POST /api/login whose password (undefined
 * when the body has none) is not LOGIN_PASSWORD, 200 otherwise.
 */
export function originAnswer(method: string, path: string, password: string | undefined): number {
  if (!isKnownPath(path)) return 404;
  if (path === '/api/login' && method === 'POST' && password !== LOGIN_PASSWORD) return 401;
  return 200;
}

/**
 * What the bundled origin answers (pure, deterministic): 401 for a login with
 * a wrong password (stuffers: almost always; browsers: rarely), 404 for paths
 * outside the known API (scanners, enumerators past the last id), 200
 * otherwise; item ids 1..10 000 exist.
 */
export function originStatus(event: TrafficEvent): number {
  const password = event.method === 'POST' && event.path === '/api/login' && loginSucceeds(event) ? LOGIN_PASSWORD : undefined;
  return originAnswer(event.method, event.path, password);
}
