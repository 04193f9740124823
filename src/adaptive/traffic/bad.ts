/**
 * The bad classes' behaviours (classes.ts documents their parameters):
 * scrapers walking ids, credential stuffers rotating keys and addresses,
 * 404 scanners, and a slow-and-low enumerator.
 */
import { PARAMS } from './classes.js';
import { EXPLOIT_PATHS, JSON_ACCEPT, MAINSTREAM_AGENTS, SCANNER_AGENTS, SCRAPER_AGENTS, STUFFER_AGENTS } from './agents.js';
import { ipv4, newKey, type Track } from './track.js';

/** Scraper: sequential item ids at a steady few per second. */
export function scraper(track: Track): void {
  const p = PARAMS.scraper;
  const { rng } = track;
  const tool = rng.pick(SCRAPER_AGENTS);
  track.identity = {
    ip: ipv4('scraper', track.index, rng.int(2, 254)),
    apiKey: track.index % 2 === 0 ? newKey(rng) : undefined,
    userAgent: tool.ua,
    accept: tool.accept,
    acceptLanguage: undefined,
  };
  const rate = rng.between(...p.ratePerS);
  let id = rng.int(...p.startId);
  for (let t = rng.between(...p.startMs); track.open(t); t += track.gap(rate, p.jitter)) {
    track.send(t, { path: `/api/items/${id}` });
    id += 1;
  }
}

/** Credential stuffer: logins, each credential under a fresh key, address and agent. */
export function stuffer(track: Track): void {
  const p = PARAMS.stuffer;
  const { rng } = track;
  const hosts = Array.from({ length: rng.int(...p.hosts) }, () => rng.int(2, 254));
  const rate = rng.between(...p.ratePerS);
  let left = 0;
  for (let t = rng.between(...p.startMs); track.open(t); t += track.gap(rate, p.jitter)) {
    if (left === 0) {
      left = rng.int(...p.keyEvery);
      track.identity = {
        ip: ipv4('stuffer', track.index, rng.pick(hosts)),
        apiKey: newKey(rng),
        userAgent: rng.pick(STUFFER_AGENTS),
        accept: rng.chance(0.5) ? 'application/json' : undefined,
        acceptLanguage: undefined,
      };
    }
    left -= 1;
    track.send(t, { method: 'POST', path: '/api/login', bodyBytes: rng.int(...p.bodyBytes) });
  }
}

/** 404 scanner: the usual exploit paths in a shuffled cycle, fast. */
export function scanner(track: Track): void {
  const p = PARAMS.scanner;
  const { rng } = track;
  const agent = rng.pick(SCANNER_AGENTS);
  track.identity = {
    ip: ipv4('scanner', track.index, rng.int(2, 254)),
    apiKey: undefined,
    userAgent: agent,
    // curl sends Accept: */*; a raw socket script sends neither header.
    accept: agent === undefined ? undefined : '*/*',
    acceptLanguage: undefined,
  };
  const order = shuffled(EXPLOIT_PATHS, () => rng.next());
  const rate = rng.between(...p.ratePerS);
  let n = 0;
  for (let t = rng.between(...p.startMs); track.open(t); t += track.gap(rate, p.jitter)) {
    const target = order[n % order.length] ?? '/';
    const cut = target.indexOf('?');
    track.send(t, cut < 0 ? { path: target } : { path: target.slice(0, cut), query: target.slice(cut) });
    n += 1;
  }
}

/** Enumerator: one plausible-looking request every few seconds, walking past the last id. */
export function enumerator(track: Track): void {
  const p = PARAMS.enumerator;
  const { rng } = track;
  track.identity = {
    ip: ipv4('enumerator', track.index, rng.int(2, 254)),
    apiKey: undefined,
    userAgent: rng.pick(MAINSTREAM_AGENTS),
    accept: JSON_ACCEPT,
    acceptLanguage: undefined,
  };
  let id = rng.int(...p.startId);
  for (let t = rng.between(0, p.gapMs[1]); track.open(t); t += rng.between(...p.gapMs)) {
    track.send(t, { path: `/api/items/${id}` });
    id += 1;
  }
}

/** Fisher-Yates over a copy. */
function shuffled<T>(items: readonly T[], next: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
