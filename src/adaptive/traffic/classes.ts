/**
 * The generator's client classes (issue 17, "Proof: labelled traffic"), with
 * the parameters each is drawn from. Every range is drawn uniformly; a
 * "per client" value is drawn once when the client starts.
 *
 * | class      | label | default clients | timing                                                   | requests                                                                  | identity                                                              |
 * |------------|-------|-----------------|----------------------------------------------------------|---------------------------------------------------------------------------|-----------------------------------------------------------------------|
 * | browser    | good  | 40 | first load at 0-20 s; page loads 2-20 s apart (think time), each a burst of 3-8 requests 20-300 ms apart | GET of varied API paths (lists, items 1..10 000, search, cart, me); 10 % of loads end with POST /api/cart (40-200 B); 5 % start with POST /api/login (50-90 B), 10 % of those a typo (401) | a real browser UA (pool of 9, one an isbot false positive), Accept and Accept-Language, no key; own /24, every 5th its own /64 |
 * | mobile     | good  | 15 | first burst at 0-30 s; bursts of 10-30 requests 50-400 ms apart, then quiet 30-120 s | GET me, items, orders, cart; 5 % POST /api/orders (100-400 B)              | app UA `AcmeApp/...`, Accept; Accept-Language on 90 % of requests; own key; own /24, every 2nd its own /64 (a new interface id each burst) |
 * | batch      | good  | 2  | 20 req/s from 0-1 s on, gaps within ±2 % (metronomic)      | GET /api/items/<id> walking a 2 000-id window of the valid range, wrapping; every 50th POST /api/sync (1-4 KB) | `acme-sync/1.4`, Accept, no Accept-Language, one key, own /24          |
 * | scraper    | bad   | 4  | from 0-5 s on, 2-5 req/s per client, gaps within ±10 %     | GET /api/items/<id> from a start of 1-500, id + 1 each request            | a library or crawler UA (Accept as that tool sends it), no Accept-Language; every 2nd a free-tier key; own /24 |
 * | stuffer    | bad   | 3  | from 0-5 s on, 8-12 req/s per client, gaps within ±30 %    | POST /api/login (40-90 B of JSON); 99 % wrong passwords (401)              | a new key every 1-3 requests (so each stuffer presents hundreds of keys a minute), with it a new address among 4-12 in its one /24 and a new UA (often none, else a library); Accept on half the keys, no Accept-Language |
 * | scanner    | bad   | 3  | from 0-5 s on, 5-20 req/s per client, gaps within ±30 %    | GET of common exploit paths (/.env, /wp-login.php, /.git/config, ...) in a shuffled cycle; mostly 404 | no UA and no Accept, or `curl/8.4.0` with its any-type Accept; no key; own /24 |
 * | enumerator | bad   | 3  | first at 0-6 s, then one request every 3-6 s (slow and low) | GET /api/items/<id> from 9 996-10 000, id + 1 each: past 10 000 every answer is 404 | a plausible browser UA and Accept, no Accept-Language, no key; own /24 |
 *
 * Addresses: class k (1-based, in CLASS_NAMES order) and client i get
 * 10.k.i.0/24 or fd00:k:i::/64, so a client's network is stable and unique.
 */
import type { TrafficLabel } from '../types.js';

export const CLASS_NAMES = ['browser', 'mobile', 'batch', 'scraper', 'stuffer', 'scanner', 'enumerator'] as const;
export type ClassName = (typeof CLASS_NAMES)[number];

/** The label training uses: the classes an operator would want served are good. */
export const CLASS_LABELS: Readonly<Record<ClassName, TrafficLabel>> = {
  browser: 'good',
  mobile: 'good',
  batch: 'good',
  scraper: 'bad',
  stuffer: 'bad',
  scanner: 'bad',
  enumerator: 'bad',
};

/** One simulated request, with the ground truth of who sent it. */
export interface TrafficEvent {
  /** ms from the start of the run (whole ms). */
  readonly at: number;
  /** Stable id of the simulated client, e.g. 'stuffer-3'. */
  readonly client: string;
  readonly cls: ClassName;
  /** good for browser/mobile/batch, bad for the rest. */
  readonly label: TrafficLabel;
  /** IPv4 in 10.0.0.0/8 or IPv6 in fd00::/8; one /24 (or /64) per client. */
  readonly ip: string;
  /** The x-api-key the client presents; stuffers rotate keys every few requests. */
  readonly apiKey: string | undefined;
  readonly method: string;
  /** Without the query, e.g. /api/items/123. */
  readonly path: string;
  /** '' or '?a=b'. */
  readonly query: string;
  readonly userAgent: string | undefined;
  readonly accept: string | undefined;
  readonly acceptLanguage: string | undefined;
  readonly bodyBytes: number;
}

type Range = readonly [number, number];

/** The parameters of the table above; the generators read them from here so the two cannot drift. */
export const PARAMS = {
  browser: {
    firstLoadMs: [0, 20_000] as Range,
    thinkMs: [2_000, 20_000] as Range,
    burst: [3, 8] as Range,
    burstGapMs: [20, 300] as Range,
    postShare: 0.1,
    postBytes: [40, 200] as Range,
    loginShare: 0.05,
    loginBytes: [50, 90] as Range,
    loginTypo: 0.1,
  },
  mobile: {
    firstBurstMs: [0, 30_000] as Range,
    burst: [10, 30] as Range,
    burstGapMs: [50, 400] as Range,
    quietMs: [30_000, 120_000] as Range,
    acceptLanguageShare: 0.9,
    postShare: 0.05,
    postBytes: [100, 400] as Range,
  },
  batch: { startMs: [0, 1_000] as Range, ratePerS: 20, jitter: 0.02, idWindow: 2_000, postEvery: 50, postBytes: [1_000, 4_000] as Range },
  scraper: { startMs: [0, 5_000] as Range, ratePerS: [2, 5] as Range, jitter: 0.1, startId: [1, 500] as Range },
  stuffer: {
    startMs: [0, 5_000] as Range,
    ratePerS: [8, 12] as Range,
    jitter: 0.3,
    keyEvery: [1, 3] as Range,
    hosts: [4, 12] as Range,
    bodyBytes: [40, 90] as Range,
    hitShare: 0.01,
  },
  scanner: { startMs: [0, 5_000] as Range, ratePerS: [5, 20] as Range, jitter: 0.3 },
  enumerator: { gapMs: [3_000, 6_000] as Range, startId: [9_996, 10_000] as Range },
} as const;

/** The largest item id the bundled origin knows (ids 1..MAX_ITEM_ID answer 200). */
export const MAX_ITEM_ID = 10_000;
