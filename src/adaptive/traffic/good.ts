/**
 * The good classes' behaviours (classes.ts documents their parameters):
 * browsers with think time, mobile apps in bursts, and a batch job that is
 * as regular as a script but legitimate.
 */
import { MAX_ITEM_ID, PARAMS } from './classes.js';
import { BATCH_AGENT, BROWSER_AGENTS, JSON_ACCEPT, LANGUAGES, MOBILE_AGENTS, SEARCH_TERMS } from './agents.js';
import { ipv4, ipv6, newKey, type Request, type Track } from './track.js';
import type { Prng } from './prng.js';

/** One GET a person's page or app makes: lists, items, search, their cart. */
function browse(rng: Prng): Request {
  switch (rng.int(0, 5)) {
    case 0:
      return { path: '/api/items', query: `?page=${rng.int(1, 40)}` };
    case 1:
      return { path: '/api/search', query: `?q=${encodeURIComponent(rng.pick(SEARCH_TERMS))}` };
    case 2:
      return { path: '/api/categories' };
    case 3:
      return { path: '/api/cart' };
    default:
      return { path: `/api/items/${rng.int(1, MAX_ITEM_ID)}` };
  }
}

/** Browser: page loads after think time, each a short burst of varied requests. */
export function browser(track: Track): void {
  const p = PARAMS.browser;
  const { rng } = track;
  // Agents go round by index, not by chance, so every one (the isbot false positive too) is in use from 9 browsers up.
  const agentAt = (track.index - 1) % BROWSER_AGENTS.length;
  const language = rng.pick(LANGUAGES);
  const host = rng.int(2, 254);
  track.identity = {
    ip: track.index % 5 === 0 ? ipv6('browser', track.index, host) : ipv4('browser', track.index, host),
    apiKey: undefined,
    userAgent: BROWSER_AGENTS[agentAt],
    accept: JSON_ACCEPT,
    acceptLanguage: language,
  };
  for (let t = rng.between(...p.firstLoadMs); track.open(t); t += rng.between(...p.thinkMs)) {
    const size = rng.int(...p.burst);
    for (let n = 0; n < size; n += 1) {
      if (n === 0 && rng.chance(p.loginShare)) {
        track.send(t, { method: 'POST', path: '/api/login', bodyBytes: rng.int(...p.loginBytes) });
      } else if (n === size - 1 && rng.chance(p.postShare)) {
        track.send(t, { method: 'POST', path: '/api/cart', bodyBytes: rng.int(...p.postBytes) });
      } else {
        track.send(t, n === 0 ? { path: '/api/me' } : browse(rng));
      }
      t += rng.between(...p.burstGapMs);
    }
  }
}

/** Mobile app: a burst of requests when opened, then quiet. */
export function mobile(track: Track): void {
  const p = PARAMS.mobile;
  const { rng } = track;
  const onV6 = track.index % 2 === 0;
  const key = newKey(rng);
  const agent = rng.pick(MOBILE_AGENTS);
  const language = rng.pick(LANGUAGES);
  for (let t = rng.between(...p.firstBurstMs); track.open(t); t += rng.between(...p.quietMs)) {
    // A phone on IPv6 takes a new privacy address now and then; its /64 stays.
    const host = rng.int(2, onV6 ? 0xffff : 254);
    const ip = onV6 ? ipv6('mobile', track.index, host) : ipv4('mobile', track.index, host);
    const size = rng.int(...p.burst);
    for (let n = 0; n < size; n += 1) {
      const acceptLanguage = rng.chance(p.acceptLanguageShare) ? language : undefined;
      track.identity = { ip, apiKey: key, userAgent: agent, accept: 'application/json', acceptLanguage };
      if (rng.chance(p.postShare)) {
        track.send(t, { method: 'POST', path: '/api/orders', bodyBytes: rng.int(...p.postBytes) });
      } else {
        track.send(t, n === 0 ? { path: '/api/me' } : rng.chance(0.2) ? { path: '/api/orders' } : browse(rng));
      }
      t += rng.between(...p.burstGapMs);
    }
  }
}

/** Batch job: a steady walk over a window of items, pushing a sync now and then. */
export function batch(track: Track): void {
  const p = PARAMS.batch;
  const { rng } = track;
  track.identity = {
    ip: ipv4('batch', track.index, rng.int(2, 254)),
    apiKey: newKey(rng),
    userAgent: BATCH_AGENT,
    accept: 'application/json',
    acceptLanguage: undefined,
  };
  const first = rng.int(1, MAX_ITEM_ID - p.idWindow);
  let n = 0;
  for (let t = rng.between(...p.startMs); track.open(t); t += track.gap(p.ratePerS, p.jitter)) {
    n += 1;
    if (n % p.postEvery === 0) track.send(t, { method: 'POST', path: '/api/sync', bodyBytes: rng.int(...p.postBytes) });
    else track.send(t, { path: `/api/items/${first + (n % p.idWindow)}` });
  }
}
