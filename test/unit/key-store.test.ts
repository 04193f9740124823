import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../src/index.js';
import { KEY_PATTERN, newApiKey, newKeyId, randomBase62 } from '../../src/keys/generate.js';
import { KeyTable, type KeyRow } from '../../src/keys/table.js';
import { UsageCounter } from '../../src/keys/usage.js';
import { buildKeyStore, checkKeyStore, whereOf } from '../../src/keys/config.js';
import { isUnavailable } from '../../src/keys/admin.js';
import { DEAD_KEY } from '../../src/limit/api-keys.js';
import { digestOf } from '../../src/limit/keys.js';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A random source that hands out `bytes` in order, cycling, however many each call asks for. */
function bytesSource(bytes: readonly number[]): (n: number) => Buffer {
  let next = 0;
  return (n) => Buffer.from(Array.from({ length: n }, () => bytes[next++ % bytes.length] as number));
}

test('generate: keys are tg_ and 32 base62 characters, ids key_ and 12, all distinct', () => {
  const keys = new Set(Array.from({ length: 200 }, () => newApiKey()));
  assert.equal(keys.size, 200);
  for (const key of keys) assert.match(key, /^tg_[0-9A-Za-z]{32}$/);
  assert.match(newApiKey(), KEY_PATTERN);
  assert.match(newKeyId(), /^key_[0-9A-Za-z]{12}$/);
});

test('generate: bytes 0..247 map to BASE62[byte % 62], bytes from 248 are drawn again', () => {
  assert.equal(randomBase62(62, bytesSource(Array.from({ length: 62 }, (_, i) => i))), BASE62);
  // 62 and 247 wrap (247 % 62 = 61); 248 and 255 are skipped, not folded into the first digits.
  assert.equal(randomBase62(4, bytesSource([248, 62, 255, 247, 250, 0, 61])), '0z0z');
  assert.equal(randomBase62(3, bytesSource([251, 252, 253, 254, 255, 1, 2, 3])), '123');
  // Only unbiased bytes in a run of many rejected ones still yield the full length.
  const mostlyRejected = Array.from({ length: 40 }, (_, i) => (i % 5 === 0 ? 10 : 249));
  assert.equal(randomBase62(32, bytesSource(mostlyRejected)), 'A'.repeat(32));
});

test('generate: the same injected bytes give the same key and id', () => {
  const bytes = [7, 99, 248, 140, 200, 31, 5, 77, 254, 180];
  assert.equal(newApiKey(bytesSource(bytes)), newApiKey(bytesSource(bytes)));
  const key = newApiKey(bytesSource(bytes));
  assert.match(key, KEY_PATTERN);
  assert.equal(key.slice(0, 7), `tg_${BASE62[7]}${BASE62[99 % 62]}${BASE62[140 % 62]}${BASE62[200 % 62]}`);
  assert.equal(newKeyId(bytesSource([0, 1, 2])), 'key_012012012012');
});

const NOW = 1_700_000_000_000;

/** The live key a secret resolves to, as plain data; fails on DEAD_KEY or unknown. */
function live(table: KeyTable, secret: string, now = NOW): { id: string; plan: string | null } {
  const found = table.lookup(secret, now);
  assert.ok(typeof found === 'object', `expected a live key, got ${String(found)}`);
  return { id: found.id, plan: found.plan };
}

function row(id: string, secret: string, extra: Partial<KeyRow> = {}): KeyRow {
  return { id, plan: 'free', state: 'active', expiresAt: null, digest: digestOf(secret), retiresAt: null, ...extra };
}

test('KeyTable: a live key gives its id and plan; an unknown one is undefined', () => {
  const table = new KeyTable();
  table.replaceAll([row('acme', 'secret-acme', { plan: 'pro' }), row('beta', 'secret-beta')]);
  assert.deepEqual(live(table, 'secret-acme'), { id: 'acme', plan: 'pro' });
  assert.deepEqual(live(table, 'secret-beta'), { id: 'beta', plan: 'free' });
  assert.equal(table.lookup('never-issued', NOW), undefined);
  assert.equal(table.size, 2);
});

test('KeyTable: disabled and revoked keys are DEAD_KEY, not unknown', () => {
  const table = new KeyTable();
  table.replaceAll([row('off', 'secret-off', { state: 'disabled' }), row('gone', 'secret-gone', { state: 'revoked' })]);
  assert.equal(table.lookup('secret-off', NOW), DEAD_KEY);
  assert.equal(table.lookup('secret-gone', NOW), DEAD_KEY);
  assert.deepEqual(table.countByState(NOW), { active: 0, disabled: 1, expired: 0, revoked: 1 });
});

test('KeyTable: a key works until its expiry and is DEAD_KEY from it on', () => {
  const table = new KeyTable();
  table.replaceAll([row('temp', 'secret-temp', { expiresAt: NOW + 1000 }), row('long', 'secret-long')]);
  assert.equal(live(table, 'secret-temp', NOW + 999).id, 'temp');
  assert.deepEqual(table.countByState(NOW + 999), { active: 2, disabled: 0, expired: 0, revoked: 0 });
  assert.equal(table.lookup('secret-temp', NOW + 1000), DEAD_KEY);
  assert.deepEqual(table.countByState(NOW + 1000), { active: 1, disabled: 0, expired: 1, revoked: 0 });
  // Disabled stays disabled past its expiry: expired is only what an active key becomes.
  table.replaceKeys(['temp'], [row('temp', 'secret-temp', { state: 'disabled', expiresAt: NOW })]);
  assert.equal(table.countByState(NOW + 5000).disabled, 1);
});

test('KeyTable: a rotated-out secret works until retiresAt; the current one keeps working', () => {
  const table = new KeyTable();
  table.replaceAll([row('acme', 'old-secret', { retiresAt: NOW + 60_000 }), row('acme', 'new-secret')]);
  assert.equal(live(table, 'old-secret', NOW + 59_999).id, 'acme');
  assert.equal(table.lookup('old-secret', NOW + 60_000), DEAD_KEY);
  assert.equal(live(table, 'new-secret', NOW + 60_000).id, 'acme');
  assert.equal(table.size, 1);
  assert.equal(table.idOfDigest(digestOf('old-secret')), 'acme');
  assert.equal(table.idOfDigest(digestOf('new-secret')), 'acme');
  assert.equal(table.idOfDigest(digestOf('other')), undefined);
  // The whole key revoked: every secret of it is dead, grace or not.
  table.replaceKeys(['acme'], [row('acme', 'old-secret', { state: 'revoked', retiresAt: NOW + 60_000 }), row('acme', 'new-secret', { state: 'revoked' })]);
  assert.equal(table.lookup('old-secret', NOW), DEAD_KEY);
  assert.equal(table.lookup('new-secret', NOW), DEAD_KEY);
});

test('KeyTable: replaceKeys drops an id old digests, adds its new rows, and leaves other keys alone', () => {
  const table = new KeyTable();
  table.replaceAll([row('acme', 'first'), row('beta', 'secret-beta')]);
  table.replaceKeys(['acme'], [row('acme', 'second', { plan: 'pro' })]);
  assert.equal(table.lookup('first', NOW), undefined);
  assert.equal(table.idOfDigest(digestOf('first')), undefined);
  assert.deepEqual(live(table, 'second'), { id: 'acme', plan: 'pro' });
  assert.equal(table.key('acme')?.plan, 'pro');
  assert.equal(live(table, 'secret-beta', NOW).id, 'beta');
  // A new id arrives by notification as well.
  table.replaceKeys(['gamma'], [row('gamma', 'secret-gamma')]);
  assert.equal(table.size, 3);
});

test('KeyTable: replaceKeys with an id and no rows removes the key', () => {
  const table = new KeyTable();
  table.replaceAll([row('acme', 'secret-acme'), row('beta', 'secret-beta')]);
  table.replaceKeys(['acme'], []);
  assert.equal(table.lookup('secret-acme', NOW), undefined);
  assert.equal(table.key('acme'), undefined);
  assert.equal(table.size, 1);
  assert.equal(table.key('beta')?.id, 'beta');
});

test('KeyTable: replaceAll swaps the whole table', () => {
  const table = new KeyTable();
  table.replaceAll([row('acme', 'secret-acme'), row('beta', 'secret-beta')]);
  table.replaceAll([row('gamma', 'secret-gamma', { plan: 'pro' })]);
  assert.equal(table.lookup('secret-acme', NOW), undefined);
  assert.equal(table.lookup('secret-beta', NOW), undefined);
  assert.equal(table.key('acme'), undefined);
  assert.deepEqual(live(table, 'secret-gamma'), { id: 'gamma', plan: 'pro' });
  assert.equal(table.size, 1);
  table.replaceAll([]);
  assert.equal(table.size, 0);
  assert.deepEqual(table.countByState(NOW), { active: 0, disabled: 0, expired: 0, revoked: 0 });
});

test('UsageCounter: counts per key with the injected clock, drains, and restores a failed batch merged', () => {
  let now = 1000;
  const usage = new UsageCounter(() => now);
  usage.count('acme');
  now = 2000;
  usage.count('acme');
  usage.count('beta');
  assert.deepEqual(usage.pending('acme'), { requests: 2, lastUsedAt: 2000 });
  assert.equal(usage.pending('gamma'), undefined);
  const batch = usage.drain();
  assert.deepEqual([...batch], [['acme', { requests: 2, lastUsedAt: 2000 }], ['beta', { requests: 1, lastUsedAt: 2000 }]]);
  assert.equal(usage.drain().size, 0);
  // Counted after the drain, then the batch's write failed: both add up, the later time wins.
  now = 3000;
  usage.count('acme');
  usage.restore(batch);
  assert.deepEqual(usage.pending('acme'), { requests: 3, lastUsedAt: 3000 });
  assert.deepEqual(usage.pending('beta'), { requests: 1, lastUsedAt: 2000 });
  usage.restore(new Map([['beta', { requests: 4, lastUsedAt: 1500 }]]));
  assert.deepEqual(usage.pending('beta'), { requests: 5, lastUsedAt: 2000 });
});

const PG = { url: 'postgres://gw:secretpw@db.example:6543/keys' };
const paths = (problems: { path: string }[]) => problems.map((p) => p.path);

test('checkKeyStore: type and postgres block go together', () => {
  assert.deepEqual(checkKeyStore({}), []);
  assert.deepEqual(checkKeyStore({ key_store: { type: 'postgres', postgres: PG } }), []);
  assert.deepEqual(paths(checkKeyStore({ key_store: { type: 'postgres' } })), ['key_store.postgres']);
  assert.deepEqual(paths(checkKeyStore({ key_store: { type: 'config', postgres: PG } })), ['key_store.type']);
  assert.deepEqual(paths(checkKeyStore({ key_store: { postgres: PG } })), ['key_store.type']);
  assert.deepEqual(paths(checkKeyStore({ key_store: { type: 'postgres', postgres: { url: 'postgres://[bad' } } })), ['key_store.postgres.url']);
});

test('checkKeyStore: api_keys or api_keys_file with postgres is refused, pointing at POST /v1/keys', () => {
  const listed = checkKeyStore({ key_store: { type: 'postgres', postgres: PG }, api_keys: [{ id: 'acme', hash: 'sha256:00' }] });
  assert.deepEqual(paths(listed), ['api_keys']);
  assert.match(listed[0]?.message ?? '', /POST \/v1\/keys/);
  const file = checkKeyStore({ key_store: { type: 'postgres', postgres: PG }, api_keys_file: 'keys.yaml' });
  assert.deepEqual(paths(file), ['api_keys_file']);
  assert.match(file[0]?.message ?? '', /POST \/v1\/keys/);
  // The file's keys are fine with the config store.
  assert.deepEqual(checkKeyStore({ key_store: { type: 'config' }, api_keys: [{ id: 'acme' }], api_keys_file: 'keys.yaml' }), []);
});

test('buildKeyStore: defaults, and a where that never shows the password', () => {
  assert.deepEqual(buildKeyStore(undefined), { type: 'config' });
  assert.deepEqual(buildKeyStore({ type: 'config' }), { type: 'config' });
  const built = buildKeyStore({ type: 'postgres', postgres: PG });
  assert.deepEqual(built, {
    type: 'postgres',
    postgres: { url: PG.url, where: 'db.example:6543/keys', schema: 'throttlegate', startupTimeoutMs: 30_000, resyncIntervalMs: 60_000 },
  });
  const custom = buildKeyStore({ type: 'postgres', postgres: { url: 'postgres://db', schema: 'keys_v2', startup_timeout: '5s', resync_interval: '2m' } });
  assert.deepEqual(custom.type === 'postgres' && custom.postgres, { url: 'postgres://db', where: 'db:5432/', schema: 'keys_v2', startupTimeoutMs: 5000, resyncIntervalMs: 120_000 });
  assert.equal(whereOf('postgres://u:secretpw@db.example:6543/keys'), 'db.example:6543/keys');
  assert.doesNotMatch(whereOf('postgresql://u:secretpw@db.example/keys?sslmode=require&password=secretpw'), /secretpw/);
  assert.equal(whereOf('not a url secretpw'), '<invalid url>');
});

test('isUnavailable: connection failures are, refusals of the query are not', () => {
  const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  assert.equal(isUnavailable(coded('08006', 'connection failure')), true);
  assert.equal(isUnavailable(coded('57P01', 'terminating connection due to administrator command')), true);
  assert.equal(isUnavailable(coded('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')), true);
  assert.equal(isUnavailable(new Error('Connection terminated unexpectedly')), true);
  assert.equal(isUnavailable(coded('23505', 'duplicate key value violates unique constraint')), false);
  assert.equal(isUnavailable(new Error('syntax')), false);
});

const STORE = 'key_store:\n  type: postgres\n  postgres: { url: "postgres://gw@127.0.0.1:5432/gw" }\n';
const KEYED = 'rate_limit: { requests_per_second: 5, burst: 10, key: [header:x-api-key, ip] }\n';
const ROUTE = 'routes:\n  - path: /api\n    upstream: http://127.0.0.1:9000\n    require_api_key: true\n';

function configError(text: string): ConfigError {
  try {
    parseConfig(text, 'keys.yaml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('the config was accepted');
}

test('config: require_api_key with key_store postgres needs no api_keys', () => {
  const config = parseConfig(STORE + KEYED + ROUTE, 'keys.yaml', {});
  assert.equal(config.keyStore.type, 'postgres');
  assert.equal(config.routes[0]?.requireApiKey, true);
  assert.deepEqual(config.apiKeys, []);
  // Without the store the same route has nothing to check keys against.
  assert.match(configError(KEYED + ROUTE).message, /require_api_key/);
});

test('config: api_keys listed next to key_store postgres is refused naming key_store', () => {
  const apiKeys = `api_keys:\n  - { id: acme, hash: "sha256:${'a'.repeat(64)}" }\n`;
  const err = configError(STORE + KEYED + apiKeys + ROUTE);
  assert.match(err.message, /key_store/);
  assert.ok(err.problems.some((p) => p.path === 'api_keys'));
});

test('config: allow and deny entries that are no address name store key ids', () => {
  const lists = 'allow: [partner-1, 10.0.0.0/8]\ndeny: [abuser.7]\n';
  const config = parseConfig(STORE + KEYED + lists + ROUTE, 'keys.yaml', {});
  const access = config.routes[0]?.access;
  assert.deepEqual(access?.allow.keyIds, ['partner-1']);
  assert.equal(access?.allow.cidrs.length, 1);
  assert.deepEqual(access?.deny.keyIds, ['abuser.7']);
  // With keys from the file, an id it does not list is a mistake.
  assert.match(configError(KEYED + lists + ROUTE).message, /"partner-1" is neither an address or CIDR nor an api_keys id/);
});
