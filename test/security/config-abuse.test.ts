import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfig } from '../../src/index.js';
import { ConfigError } from '../../src/config/problems.js';

// A config file as an attack surface: YAML that expands, nests or tags its way
// past the loader. Each hostile file must fail fast with a clear error; an
// honest file, however large, must not be mistaken for one.

const ROUTE = (i: number) => `  - path: /r${i}\n    upstream: http://127.0.0.1:8000\n`;
const routes = (n: number) => `routes:\n${Array.from({ length: n }, (_, i) => ROUTE(i)).join('')}`;

/** The ConfigError `run` throws, and how long it took. */
function refusal(run: () => unknown): { err: ConfigError; ms: number } {
  const started = performance.now();
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `a ConfigError, not ${String(err)}`);
    return { err, ms: performance.now() - started };
  }
  assert.fail('the config was accepted');
}

// Billion laughs: nine levels of ten references, 10^9 nodes from 90 aliases (under js-yaml's maxAliases: 100).
function billionLaughs(): string {
  let yaml = 'l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n';
  for (let level = 1; level <= 9; level++) yaml += `l${level}: &l${level} [${Array(10).fill(`*l${level - 1}`).join(', ')}]\n`;
  return `${yaml}${routes(1)}`;
}

test('10,000 plain routes validate', () => {
  const started = performance.now();
  const config = parseConfig(routes(10_000), 'big.yaml', {});
  const ms = performance.now() - started;
  assert.equal(config.routes.length, 10_000);
  // The size of the file is what bounds the work; this bound only catches a blow-up (seconds are normal on a loaded machine).
  assert.ok(ms < 60_000, `took ${ms} ms`);
});

test('aliases an honest config uses still work', () => {
  const yaml = `rate_limit: &shared { requests_per_second: 5, burst: 10 }
routes:
${Array.from({ length: 50 }, (_, i) => `${ROUTE(i)}    rate_limit: *shared\n`).join('')}`;
  const config = parseConfig(yaml, 'aliases.yaml', {});
  assert.equal(config.routes.length, 50);
});

test('a billion-laughs alias bomb fails fast, naming what it is', () => {
  const { err, ms } = refusal(() => parseConfig(billionLaughs(), 'bomb.yaml', {}));
  assert.equal(err.code, 'TG_ERR_CONFIG_YAML');
  assert.match(err.message, /bomb\.yaml: YAML aliases expand to more than 100000 nodes \(an alias bomb\?\)/);
  assert.ok(ms < 5_000, `took ${ms} ms`);
});

test('a wide anchor repeated by many aliases is refused too', () => {
  const wide = `w: &w [${Array(5_000).fill('x').join(', ')}]\nmany: [${Array(90).fill('*w').join(', ')}]\n${routes(1)}`;
  assert.match(refusal(() => parseConfig(wide, 'wide.yaml', {})).err.message, /expand to more than 100000 nodes/);
});

test('a recursive alias is refused, not walked forever', () => {
  for (const yaml of ['a: &a [1, *a]\n', 'a: &a { k: *a }\n']) {
    assert.match(refusal(() => parseConfig(`${yaml}${routes(1)}`, 'loop.yaml', {})).err.message, /recursive alias/);
  }
});

test('an alias bomb in api_keys_file is refused the same way', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-config-abuse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'keys.yaml'), billionLaughs().replace(/routes:[\s\S]*/, 'k: *l9\n'));
  writeFileSync(join(dir, 'config.yaml'), `api_keys_file: keys.yaml\n${routes(1)}`);
  const { err, ms } = refusal(() => loadConfig(join(dir, 'config.yaml'), {}));
  assert.match(err.message, /api_keys_file \(keys\.yaml\): YAML aliases expand to more than 100000 nodes/);
  assert.ok(ms < 5_000, `took ${ms} ms`);
});

test('custom tags (code, objects) are refused', () => {
  for (const tag of ['!!js/function "function () { return process.exit(1) }"', '!!js/regexp /x/', '!!js/undefined ""', '!!python/object:os.system ls', '!custom 1']) {
    const { err } = refusal(() => parseConfig(`x: ${tag}\n${routes(1)}`, 'tags.yaml', {}));
    assert.equal(err.code, 'TG_ERR_CONFIG_YAML', tag);
    assert.match(err.message, /unknown scalar tag/, tag);
  }
});

test('a deeply nested document is refused at a fixed depth', () => {
  for (const deep of [`x: ${'['.repeat(50_000)}${']'.repeat(50_000)}`, `x: ${'{a: '.repeat(50_000)}1${'}'.repeat(50_000)}`]) {
    const { err, ms } = refusal(() => parseConfig(`${deep}\n${routes(1)}`, 'deep.yaml', {}));
    assert.match(err.message, /nesting exceeded maxDepth/);
    assert.ok(ms < 5_000, `took ${ms} ms`);
  }
});

test('a huge scalar: over the file cap it is not read; under it, it is one bad field', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tg-config-abuse-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'huge.yaml'), `${routes(1)}    host: ${'a'.repeat(2 * 1024 * 1024)}\n`);
  assert.match(refusal(() => loadConfig(join(dir, 'huge.yaml'), {})).err.message, /is larger than 1048576 bytes/);
  const { err, ms } = refusal(() => parseConfig(`routes:\n  - path: /${'a'.repeat(900_000)}\n    upstream: http://127.0.0.1:8000\n    bogus: 1\n`, 'big-scalar.yaml', {}));
  assert.equal(err.code, 'TG_ERR_CONFIG_INVALID');
  assert.match(err.message, /routes\[0\]\.bogus: unknown key/);
  assert.ok(ms < 10_000, `took ${ms} ms`);
});
