import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { FeatureTable } from '../../src/adaptive/features.js';
import { FEATURE_COUNT, FEATURE_NAMES, type FeatureName, type RequestSignal } from '../../src/adaptive/types.js';
import { mulberry32 } from '../../src/adaptive/random.js';

const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
const H = 60_000;
const T0 = 1_700_000_000_000; // 20 s into a minute (28_333_333 whole minutes): T0 + 40_000 starts one

const signal = (over: Partial<RequestSignal> = {}): RequestSignal => ({
  at: T0,
  method: 'GET',
  path: '/',
  status: 200,
  refused: false,
  bodyBytes: 0,
  userAgent: BROWSER,
  hasAccept: true,
  hasAcceptLanguage: true,
  network: 'ip4:198.51.100.0/24',
  clientKey: 'ip:198.51.100.7',
  limitRate: 10,
  ...over,
});

const newTable = (options: ConstructorParameters<typeof FeatureTable>[0] = {}) => new FeatureTable({ seed: 7, ...options });

/** The client's features as of `now`, by name. */
function read(table: FeatureTable, key: string, now: number): Record<FeatureName, number> {
  const out = new Float64Array(FEATURE_COUNT);
  assert.equal(table.features(key, now, out), true, `${key} is known`);
  for (const v of out) assert.ok(v >= 0 && v <= 1, `every feature in [0, 1]: ${Array.from(out).join(', ')}`);
  return Object.fromEntries(FEATURE_NAMES.map((name, i) => [name, out[i] as number])) as Record<FeatureName, number>;
}

const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} +- ${tolerance}`);

test('an unknown client reads false with out zeroed, and has no counts', () => {
  const table = newTable();
  const out = new Float64Array(FEATURE_COUNT).fill(7);
  assert.equal(table.features('nobody', T0, out), false);
  assert.deepEqual(Array.from(out), new Array(FEATURE_COUNT).fill(0));
  assert.equal(table.counts('nobody'), undefined);
  assert.equal(table.size, 0);
});

test('a clean browser client reads 0 on every share', () => {
  const table = newTable();
  for (let i = 0; i < 10; i++) table.observe(signal({ at: T0 + i * 1000 }));
  const f = read(table, 'ip:198.51.100.7', T0 + 10_000);
  for (const name of ['refused_share', 'auth_fail_share', 'not_found_share', 'server_error_share', 'non_get_share'] as const) {
    assert.equal(f[name], 0, name);
  }
  for (const name of ['no_user_agent', 'no_accept', 'no_accept_language', 'bot_agent', 'body_size'] as const) {
    assert.equal(f[name], 0, name);
  }
  assert.deepEqual(table.counts('ip:198.51.100.7'), { requests: 10, refused: 0 });
});

test('each share counts its own kind of request', () => {
  const table = newTable();
  const kinds: Array<[FeatureName, Partial<RequestSignal>]> = [
    ['refused_share', { refused: true, status: 429 }],
    ['auth_fail_share', { status: 401 }],
    ['not_found_share', { status: 404 }],
    ['server_error_share', { status: 503 }],
    ['non_get_share', { method: 'POST' }],
    ['no_user_agent', { userAgent: undefined }],
    ['no_accept', { hasAccept: false }],
    ['no_accept_language', { hasAcceptLanguage: false }],
    ['bot_agent', { userAgent: 'python-requests/2.31.0' }],
  ];
  for (const [name, over] of kinds) {
    const key = `client-${name}`;
    for (let i = 0; i < 10; i++) table.observe(signal({ clientKey: key, at: T0 + i * 500, ...over }));
    const f = read(table, key, T0 + 5000);
    near(f[name], 1, 1e-6, `10 of 10 requests: ${name}`);
    for (const [other] of kinds) if (other !== name && other !== 'auth_fail_share') assert.equal(f[other], 0, `${name} leaves ${other} alone`);
  }
  const f403 = table;
  for (let i = 0; i < 4; i++) f403.observe(signal({ clientKey: 'half', at: T0 + i, status: i % 2 === 0 ? 403 : 200 }));
  near(read(f403, 'half', T0 + 4).auth_fail_share, 0.5, 1e-3, '403 counts as an auth failure, 2 of 4');
  for (const method of ['HEAD', 'DELETE']) table.observe(signal({ clientKey: 'methods', method }));
  near(read(table, 'methods', T0).non_get_share, 0.5, 1e-6, 'HEAD is a read, DELETE is not');
  assert.deepEqual(table.counts('client-refused_share'), { requests: 10, refused: 10 });
});

test('10 requests all 404 read not_found_share 1; a mix reads its share', () => {
  const table = newTable();
  for (let i = 0; i < 10; i++) table.observe(signal({ at: T0 + i * 100, status: 404, path: `/probe/${i}` }));
  near(read(table, 'ip:198.51.100.7', T0 + 1000).not_found_share, 1, 1e-6, 'all 404');
  for (let i = 0; i < 10; i++) table.observe(signal({ clientKey: 'mix', at: T0, status: i < 3 ? 404 : 200 }));
  near(read(table, 'mix', T0).not_found_share, 0.3, 1e-6, '3 of 10 at one instant');
});

test('decay: a share falls after a half-life of clean traffic, and time alone does not move it', () => {
  const table = newTable();
  for (let i = 0; i < 10; i++) table.observe(signal({ at: T0, status: 404 }));
  near(read(table, 'ip:198.51.100.7', T0 + 10 * H).not_found_share, 1, 1e-6, 'no new traffic: the share holds');
  table.observe(signal({ at: T0 + H }));
  // The ten 404s weigh 5 after one half-life, the clean request 1: 5 / 6, where undecayed counts would say 10 / 11.
  near(read(table, 'ip:198.51.100.7', T0 + H).not_found_share, 5 / 6, 1e-4, 'one half-life later');

  const steady = newTable();
  for (let i = 0; i < 10; i++) steady.observe(signal({ at: T0, status: 404 }));
  for (let s = 1; s <= 60; s++) steady.observe(signal({ at: T0 + s * 1000 }));
  const share = read(steady, 'ip:198.51.100.7', T0 + H).not_found_share;
  assert.ok(share < 0.11 && share > 0.09, `a half-life of 1 request/s: 5 / (5 + ~43.6), not 10 / 70 (${share})`);
});

test('pressure: the decayed rate against the limit, right from the start', () => {
  const table = newTable();
  for (let i = 0; i < 50; i++) table.observe(signal({ at: T0 + i * 200, limitRate: 10 })); // 5 requests/s for 10 s
  const half = read(table, 'ip:198.51.100.7', T0 + 10_000).pressure;
  near(half, 0.5, 0.03, '5 requests/s against 10/s');
  for (let i = 0; i < 50; i++) table.observe(signal({ clientKey: 'fast', at: T0 + i * 50, limitRate: 10 })); // 20/s
  assert.equal(read(table, 'fast', T0 + 2500).pressure, 1, 'over the limit: capped at 1');
  assert.ok(read(table, 'ip:198.51.100.7', T0 + 10_000 + 5 * H).pressure < 0.05, 'five half-lives of silence later');
  for (let i = 0; i < 50; i++) table.observe(signal({ clientKey: 'free', at: T0 + i * 50, limitRate: 0 }));
  assert.equal(read(table, 'free', T0 + 2500).pressure, 0, 'no limit: 0');
});

test('path_spread: 40 distinct paths in a minute read 1; a few repeated paths read few; it fades over the next minute', () => {
  const table = newTable();
  const start = T0 + 40_000; // 0 s into a minute (T0 is 20 s into one)
  for (let i = 0; i < 40; i++) table.observe(signal({ at: start + i * 1000, path: `/items/${i}` }));
  assert.equal(read(table, 'ip:198.51.100.7', start + 40_000).path_spread, 1);
  const early = read(table, 'ip:198.51.100.7', start + 60_000 + 6_000).path_spread;
  assert.equal(early, 1, 'just past the boundary the previous minute still counts');
  const late = read(table, 'ip:198.51.100.7', start + 60_000 + 54_000).path_spread;
  assert.ok(late > 0 && late < 0.5, `most of a minute later it has faded: ${late}`);
  assert.equal(read(table, 'ip:198.51.100.7', start + 120_000).path_spread, 0, 'two minutes on: gone');

  for (let i = 0; i < 60; i++) table.observe(signal({ clientKey: 'browser', at: start + i * 1000, path: `/page/${i % 5}` }));
  near(read(table, 'browser', start + 59_000).path_spread, 5 / 30, 0.05, '5 paths, each 12 times');
  table.observe(signal({ clientKey: 'browser', at: start + 60_000, path: '/page/0' }));
  near(read(table, 'browser', start + 60_500).path_spread, 5 / 30, 0.05, 'one request into the next minute: the previous one still counts');
  for (let i = 1; i < 60; i++) table.observe(signal({ clientKey: 'browser', at: start + 60_000 + i * 1000, path: `/page/${i % 5}` }));
  near(read(table, 'browser', start + 119_000).path_spread, 5 / 30, 0.05, 'the same 5 paths again next minute: still 5, not 10');
});

test('regularity: a metronomic client reads near 1, a jittery one low, a new one 0', () => {
  const table = newTable();
  for (let i = 0; i < 50; i++) table.observe(signal({ clientKey: 'metronome', at: T0 + i * 100 }));
  assert.ok(read(table, 'metronome', T0 + 5000).regularity > 0.99, 'every 100 ms');

  const random = mulberry32(17);
  let at = T0;
  for (let i = 0; i < 200; i++) {
    at += Math.round(-Math.log(1 - random()) * 300); // Poisson arrivals: coefficient of variation 1
    table.observe(signal({ clientKey: 'human', at }));
  }
  assert.ok(read(table, 'human', at).regularity < 0.35, `exponential gaps: ${read(table, 'human', at).regularity}`);

  for (let i = 0; i < 5; i++) table.observe(signal({ clientKey: 'new', at: T0 + i * 100 }));
  assert.equal(read(table, 'new', T0 + 500).regularity, 0, '4 gaps are not enough');
  table.observe(signal({ clientKey: 'new', at: T0 + 500 }));
  assert.ok(read(table, 'new', T0 + 600).regularity > 0.99, 'the fifth gap is');

  at = T0 + 5000;
  for (let i = 0; i < 30; i++) table.observe(signal({ clientKey: 'metronome', at: (at += i % 2 === 0 ? 20 : 400) }));
  assert.ok(read(table, 'metronome', at).regularity < 0.2, 'it forgets its metronome once it turns jittery');
});

test('body_size: log10(1 + mean bytes) / 6', () => {
  const table = newTable();
  for (let i = 0; i < 4; i++) table.observe(signal({ at: T0, method: 'POST', bodyBytes: i % 2 === 0 ? 0 : 2000 }));
  near(read(table, 'ip:198.51.100.7', T0).body_size, Math.log10(1001) / 6, 1e-4, 'mean 1000 bytes');
  table.observe(signal({ clientKey: 'upload', at: T0, method: 'PUT', bodyBytes: 50_000_000 }));
  table.observe(signal({ clientKey: 'upload', at: T0, method: 'PUT', bodyBytes: Number.NaN }));
  assert.equal(read(table, 'upload', T0).body_size, 1, 'capped at 1 MB and above');
});

test('key_churn: 25 keys from one /24 read 1 for each of them; a lone key reads little; it fades', () => {
  const table = newTable();
  const start = T0 + 40_000;
  for (let i = 0; i < 25; i++) {
    table.observe(signal({ clientKey: `key-${i}`, network: 'ip4:203.0.113.0/24', at: start + i * 100 }));
  }
  table.observe(signal({ clientKey: 'lone', network: 'ip6:2001:db8:1:2::/64', at: start }));
  for (let i = 0; i < 25; i++) assert.equal(read(table, `key-${i}`, start + 3000).key_churn, 1, `key-${i}`);
  near(read(table, 'lone', start + 3000).key_churn, 1 / 20, 0.01, 'one key in its /64');
  assert.equal(read(table, 'key-0', start + 120_000).key_churn, 0, 'two minutes later');
  for (let i = 0; i < 10; i++) table.observe(signal({ clientKey: 'lone', network: 'ip6:2001:db8:1:2::/64', at: start + 1000 + i }));
  near(read(table, 'lone', start + 3000).key_churn, 1 / 20, 0.01, 'the same key again is not churn');
});

test('eviction at the cap forgets the least recently seen client', () => {
  const table = newTable({ maxClients: 3 });
  for (const [i, key] of ['a', 'b', 'c'].entries()) table.observe(signal({ clientKey: key, at: T0 + i }));
  table.observe(signal({ clientKey: 'a', at: T0 + 10 })); // a is now the most recent; b the least
  table.observe(signal({ clientKey: 'd', at: T0 + 11 }));
  assert.equal(table.size, 3);
  assert.equal(table.counts('b'), undefined, 'b forgotten');
  assert.deepEqual(table.counts('a'), { requests: 2, refused: 0 });
  assert.ok(table.counts('c') && table.counts('d'));
  table.observe(signal({ clientKey: 'b', at: T0 + 12, status: 404 }));
  assert.equal(table.counts('c'), undefined, 'then c, the next least recent');
  assert.deepEqual(table.counts('b'), { requests: 1, refused: 0 }, 'a returning client starts afresh');
  near(read(table, 'b', T0 + 12).not_found_share, 1, 1e-6, 'with nothing of its former row');
});

test('many clients through a small cap: exactly the most recent ones are kept (growth and index deletion)', () => {
  const table = newTable({ maxClients: 1500 });
  const random = mulberry32(3);
  const recency = new Map<string, number>(); // the reference: insertion order is recency order
  for (let i = 0; i < 20_000; i++) {
    const key = `c${Math.floor(random() * 4000)}`;
    table.observe(signal({ clientKey: key, at: T0 + i }));
    recency.delete(key);
    recency.set(key, (recency.get(key) ?? 0) + 1);
    if (recency.size > 1500) recency.delete(recency.keys().next().value as string);
  }
  assert.equal(table.size, 1500);
  for (let i = 0; i < 4000; i++) {
    const key = `c${i}`;
    assert.equal(table.counts(key) !== undefined, recency.has(key), `${key}: kept exactly when among the 1500 most recent`);
  }
});

test('a late report neither rewinds the clock nor breaks a reading; reading changes nothing', () => {
  const table = newTable();
  table.observe(signal({ at: T0 + 1000 }));
  table.observe(signal({ at: T0, status: 500 }));
  const a = read(table, 'ip:198.51.100.7', T0 + 2000);
  near(a.server_error_share, 0.5, 1e-6, 'the late 500 counts');
  assert.deepEqual(read(table, 'ip:198.51.100.7', T0 + 2000), a, 'a second reading is the same');
});

test('memory: 100k clients (each in its own network) take at most 256 bytes each and 25 MB in all', (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const used = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  assert.ok(FeatureTable.BYTES_PER_CLIENT <= 256, `BYTES_PER_CLIENT ${FeatureTable.BYTES_PER_CLIENT}`);
  const before = used();
  const table = new FeatureTable();
  for (let i = 0; i < 100_000; i++) {
    table.observe(signal({ clientKey: `ip:10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, network: `ip6:2001:db8:${i}::/64`, at: T0 + i, path: `/p/${i & 63}` }));
  }
  const bytes = used() - before;
  assert.equal(table.size, 100_000);
  t.diagnostic(`BYTES_PER_CLIENT ${FeatureTable.BYTES_PER_CLIENT}; measured ${(bytes / 1e6).toFixed(1)} MB for 100k clients and 50k networks, ${Math.round(bytes / 100_000)} bytes a client`);
  assert.ok(bytes / 100_000 <= 256, `${bytes / 100_000} bytes a client`);
  assert.ok(bytes <= 25e6, `${bytes} bytes in all`);
  assert.ok(bytes > 100_000 * 100, `the measure sees the table (${bytes} bytes)`);
});
