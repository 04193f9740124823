import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isbot } from 'isbot';
import {
  CLASS_NAMES,
  DEFAULT_MIX,
  MAX_ITEM_ID,
  countByClass,
  generate,
  originStatus,
  type ClassName,
  type MixSpec,
  type TrafficEvent,
} from '../../src/adaptive/traffic/index.js';
import { BROWSER_AGENTS } from '../../src/adaptive/traffic/agents.js';
import { Prng } from '../../src/adaptive/traffic/prng.js';

// Properties hold for every seed, not one tuned seed (issue 17 asks for the spread).
const SEEDS = [1, 2, 3, 42, 20_240_917];
const MINUTE = 60_000;
const runs = new Map(SEEDS.map((s) => [s, generate(DEFAULT_MIX, s, MINUTE)]));
const eachRun = (fn: (events: TrafficEvent[], seed: number) => void): void => runs.forEach((events, seed) => fn(events, seed));

function byClient(events: readonly TrafficEvent[], cls: ClassName): Map<string, TrafficEvent[]> {
  const out = new Map<string, TrafficEvent[]>();
  for (const e of events) if (e.cls === cls) out.set(e.client, [...(out.get(e.client) ?? []), e]);
  return out;
}
const gaps = (events: readonly TrafficEvent[]): number[] => events.slice(1).map((e, i) => e.at - (events[i] as TrafficEvent).at);
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const cv = (xs: readonly number[]): number => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2))) / mean(xs);
/** Requests per second between a client's first and last request. */
const rate = (events: readonly TrafficEvent[]): number =>
  ((events.length - 1) * 1000) / ((events.at(-1) as TrafficEvent).at - (events[0] as TrafficEvent).at);
function statusShare(events: readonly TrafficEvent[], cls: ClassName, status: number): number {
  const mine = events.filter((e) => e.cls === cls);
  return mine.filter((e) => originStatus(e) === status).length / mine.length;
}

test('prng: same seed and name, same stream; another seed or name, another stream; values in range', () => {
  const draw = (seed: number, name: string) => Array.from({ length: 5 }, ((r) => () => r.next())(new Prng(seed, name)));
  assert.deepEqual(draw(7, 'a'), draw(7, 'a'));
  assert.notDeepEqual(draw(7, 'a'), draw(8, 'a'));
  assert.notDeepEqual(draw(7, 'a'), draw(7, 'b'));
  const r = new Prng(1);
  for (let i = 0; i < 1000; i += 1) {
    const n = r.int(3, 8);
    assert.ok(Number.isInteger(n) && n >= 3 && n <= 8);
    const x = r.next();
    assert.ok(x >= 0 && x < 1);
  }
  assert.throws(() => r.pick([]), RangeError);
});

test('deterministic: the same seed gives deep-equal events, another seed different ones', () => {
  assert.deepEqual(generate(DEFAULT_MIX, 1, MINUTE), runs.get(1));
  assert.notDeepEqual(runs.get(1), runs.get(2));
});

test("a client's requests depend on the seed and its name only: more scanners leave the browsers as they were", () => {
  const more: MixSpec = { classes: { ...DEFAULT_MIX.classes, scanner: 10 } };
  const browsers = (events: readonly TrafficEvent[]) => events.filter((e) => e.cls === 'browser');
  assert.deepEqual(browsers(generate(more, 3, MINUTE)), browsers(runs.get(3) ?? []));
});

test('sorted by time, whole ms, inside the run; ties ordered by client', () =>
  eachRun((events) => {
    for (let i = 1; i < events.length; i += 1) {
      const [a, b] = [events[i - 1] as TrafficEvent, events[i] as TrafficEvent];
      assert.ok(a.at < b.at || (a.at === b.at && a.client <= b.client), `out of order at ${i}`);
    }
    assert.ok(events.every((e) => Number.isInteger(e.at) && e.at >= 0 && e.at < MINUTE));
  }));

test('every class of the default mix present, every client of it, with its label; under 60k events a minute', () =>
  eachRun((events, seed) => {
    const counts = countByClass(events);
    for (const cls of CLASS_NAMES) {
      assert.equal(byClient(events, cls).size, DEFAULT_MIX.classes[cls], `${cls} clients, seed ${seed}`);
      const label = ['browser', 'mobile', 'batch'].includes(cls) ? 'good' : 'bad';
      assert.ok(events.filter((e) => e.cls === cls).every((e) => e.label === label && e.client.startsWith(`${cls}-`)));
      assert.ok(counts[cls] > 0);
    }
    assert.ok(events.length < 60_000, `${events.length} events`);
  }));

test('per-client rates over a minute within each class range', () =>
  eachRun((events, seed) => {
    const within = (cls: ClassName, lo: number, hi: number) => {
      for (const [client, mine] of byClient(events, cls)) {
        assert.ok(rate(mine) >= lo && rate(mine) <= hi, `${client} at ${rate(mine).toFixed(2)}/s, seed ${seed}`);
      }
    };
    within('batch', 19, 21);
    within('scraper', 1.8, 5.5);
    within('stuffer', 7, 13);
    within('scanner', 4.5, 22);
    for (const [client, mine] of byClient(events, 'enumerator')) {
      assert.ok(mine.length >= 9 && mine.length <= 21, `${client}: ${mine.length}`);
      assert.ok(gaps(mine).every((g) => g >= 2_999 && g <= 6_001), `${client} gaps ${gaps(mine)}`);
    }
    const browserRate = events.filter((e) => e.cls === 'browser').length / DEFAULT_MIX.classes.browser / 60;
    assert.ok(browserRate > 0.2 && browserRate < 1, `browser ${browserRate}/s`);
  }));

test('browsers load pages in bursts after think time; mobile apps in bursts of 10+ then long quiet', () =>
  eachRun((events) => {
    for (const mine of byClient(events, 'browser').values()) {
      assert.ok(gaps(mine).every((g) => g <= 300 || g >= 2_000), 'a gap neither in a burst nor think time');
      assert.ok(mine.every((e) => e.userAgent !== undefined && e.accept !== undefined && e.acceptLanguage !== undefined));
    }
    for (const [client, mine] of byClient(events, 'mobile')) {
      assert.ok(mine.length >= 10, `${client}: ${mine.length}`);
      assert.ok(gaps(mine).every((g) => g <= 400 || g >= 30_000), `${client} gaps`);
      assert.ok(new Set(mine.map((e) => e.apiKey)).size === 1 && mine[0]?.apiKey !== undefined);
    }
  }));

test('batch is metronomic (gaps vary < 0.1), one key, no Accept-Language, every answer 200', () =>
  eachRun((events) => {
    for (const [client, mine] of byClient(events, 'batch')) {
      assert.ok(cv(gaps(mine)) < 0.1, `${client} cv ${cv(gaps(mine))}`);
      assert.equal(new Set(mine.map((e) => e.apiKey)).size, 1);
      assert.ok(mine.every((e) => e.acceptLanguage === undefined && e.accept !== undefined && originStatus(e) === 200));
    }
  }));

test('scrapers walk sequential ids without Accept-Language', () =>
  eachRun((events) => {
    for (const mine of byClient(events, 'scraper').values()) {
      const ids = mine.map((e) => Number(e.path.split('/').at(-1)));
      assert.ok(ids.every((id, i) => i === 0 || id === (ids[i - 1] as number) + 1));
      assert.ok(mine.every((e) => e.acceptLanguage === undefined && e.userAgent !== undefined));
    }
  }));

test('stuffers rotate keys (hundreds a minute) and addresses within one /24, POSTing logins', () =>
  eachRun((events) => {
    for (const [client, mine] of byClient(events, 'stuffer')) {
      const keys = new Set(mine.map((e) => e.apiKey));
      assert.ok(keys.size >= 100 && keys.size >= mine.length / 3, `${client}: ${keys.size} keys for ${mine.length}`);
      const nets = new Set(mine.map((e) => e.ip.split('.').slice(0, 3).join('.')));
      assert.equal(nets.size, 1);
      assert.ok(new Set(mine.map((e) => e.ip)).size >= 2);
      assert.ok(mine.every((e) => e.method === 'POST' && e.path === '/api/login' && e.bodyBytes > 0));
    }
  }));

test("the origin's answers: scanners mostly 404, stuffers mostly 401, enumerators mostly 404, the good classes mostly 200", () =>
  eachRun((events, seed) => {
    const at = (cls: ClassName, status: number, least: number) => {
      const share = statusShare(events, cls, status);
      assert.ok(share >= least, `${cls} ${status} share ${share.toFixed(3)}, seed ${seed}`);
    };
    at('scanner', 404, 0.8);
    at('stuffer', 401, 0.95);
    at('enumerator', 404, 0.6);
    at('browser', 200, 0.98);
    at('mobile', 200, 1);
    at('scraper', 200, 1);
  }));

test('originStatus: the item range, unknown paths, logins', () => {
  const base = generate(DEFAULT_MIX, 1, MINUTE).find((e) => e.cls === 'browser') as TrafficEvent;
  const status = (over: Partial<TrafficEvent>) => originStatus({ ...base, ...over });
  assert.equal(status({ path: '/api/items/1' }), 200);
  assert.equal(status({ path: `/api/items/${MAX_ITEM_ID}` }), 200);
  assert.equal(status({ path: `/api/items/${MAX_ITEM_ID + 1}` }), 404);
  assert.equal(status({ path: '/api/items/0' }), 404);
  assert.equal(status({ path: '/api/items/abc' }), 404);
  assert.equal(status({ path: '/.env' }), 404);
  assert.equal(status({ path: '/api/search', query: '?q=x' }), 200);
  assert.equal(status({ path: '/api/login', method: 'GET' }), 200);
  // The same attempt always gets the same answer; a stuffer's attempts nearly all fail, a browser's nearly all pass.
  const logins = (cls: ClassName) =>
    Array.from({ length: 1000 }, (_, i) => status({ cls, client: `${cls}-1`, path: '/api/login', method: 'POST', at: i }));
  assert.deepEqual(logins('stuffer'), logins('stuffer'));
  assert.ok(logins('stuffer').filter((s) => s === 401).length > 950);
  assert.ok(logins('browser').filter((s) => s === 200).length > 850);
  assert.ok(logins('browser').includes(401), 'browsers mistype now and then');
});

test('addresses: 10/8 or fd00::/8, one /24 or /64 per client, distinct between clients', () =>
  eachRun((events) => {
    const network = (ip: string) => (ip.includes(':') ? ip.split(':').slice(0, 3).join(':') : ip.split('.').slice(0, 3).join('.'));
    const owner = new Map<string, string>();
    for (const e of events) {
      assert.ok(/^10\.\d+\.\d+\.\d+$/.test(e.ip) || /^fd00:[0-9a-f]+:[0-9a-f]+::[0-9a-f]+$/.test(e.ip), e.ip);
      const net = network(e.ip);
      assert.equal(owner.get(net) ?? e.client, e.client, `${net} shared`);
      owner.set(net, e.client);
    }
    assert.ok([...owner.keys()].some((n) => n.startsWith('fd00:')), 'some clients on IPv6');
  }));

test('the browser pool holds a real browser UA with "http" or "search", and one isbot flags (a false positive in use)', () => {
  const odd = BROWSER_AGENTS.filter((ua) => /http|search/i.test(ua) && ua.startsWith('Mozilla/5.0 ('));
  assert.ok(odd.length >= 1);
  // If an isbot upgrade stops flagging it, swap in another reported false positive: the point is to have one.
  assert.ok(BROWSER_AGENTS.some((ua) => isbot(ua)), 'no browser agent is an isbot false positive');
  eachRun((events) => {
    const used = new Set(events.filter((e) => e.cls === 'browser').map((e) => e.userAgent));
    assert.ok(odd.every((ua) => used.has(ua)));
  });
});

test('generate: a run of 0 ms is empty, a class of 0 clients absent; bad input refused', () => {
  assert.deepEqual(generate(DEFAULT_MIX, 1, 0), []);
  const noBrowsers = generate({ classes: { ...DEFAULT_MIX.classes, browser: 0 } }, 1, 10_000);
  assert.ok(noBrowsers.length > 0 && noBrowsers.every((e) => e.cls !== 'browser'));
  assert.throws(() => generate({ classes: { ...DEFAULT_MIX.classes, scanner: 1.5 } }, 1, MINUTE), /scanner/);
  assert.throws(() => generate({ classes: { ...DEFAULT_MIX.classes, browser: 255 } }, 1, MINUTE), /browser/);
  assert.throws(() => generate(DEFAULT_MIX, 1, -1), RangeError);
  assert.throws(() => generate(DEFAULT_MIX, Number.NaN, MINUTE), RangeError);
});
