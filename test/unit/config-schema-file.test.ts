import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Ajv, type ErrorObject } from 'ajv';
import { load as loadYaml, CORE_SCHEMA } from 'js-yaml';
import { editorSchemaText } from '../../src/config/editor-schema.js';
import { configSchema } from '../../src/config/schema.js';
import { interpolate } from '../../src/config/interpolate.js';
import { aliasProblem } from '../../src/config/aliases.js';

const root = (path: string): string => fileURLToPath(new URL(`../../../${path}`, import.meta.url));
// This file's own build of the CLI (dist-test/src/cli.js under npm test), so it always has `schema`.
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));
const REGENERATE = 'regenerate it: node dist/cli.js schema > throttlegate.schema.json';

const committed = readFileSync(root('throttlegate.schema.json'), 'utf8');
// A bare strict Ajv on draft-07, as an editor reads the file: an ajv-only keyword would not compile here.
const checkEditor = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(JSON.parse(committed) as object);
// The validator's first stage (validate.ts), which sees the document after interpolation.
const checkValidator = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(configSchema);

const parse = (text: string): unknown => loadYaml(text, { schema: CORE_SCHEMA, maxAliases: 100 });
const problems = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword} ${JSON.stringify(e.params)}`).join('\n');

function assertValid(doc: unknown, what: string): void {
  assert.equal(checkEditor(doc), true, `${what} fails throttlegate.schema.json:\n${problems(checkEditor.errors)}`);
}

test('the committed throttlegate.schema.json is what `throttlegate schema` derives from the validator schema', () => {
  assert.equal(committed, editorSchemaText(), `throttlegate.schema.json is stale; ${REGENERATE}`);
  assert.ok(committed.endsWith('}\n'));
  const schema = JSON.parse(committed) as Record<string, unknown>;
  assert.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  assert.deepEqual(schema.required, configSchema.required);
  assert.deepEqual(Object.keys(schema.properties as object), Object.keys(configSchema.properties));
});

test('`throttlegate schema` run as a process prints the committed file, as valid JSON', async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'schema']);
  assert.deepEqual(JSON.parse(stdout), JSON.parse(committed));
  assert.equal(stdout, committed, REGENERATE);
});

test('configs/config.yaml names the schema on its first line, by a path that reaches it, and validates', () => {
  const file = root('configs/config.yaml');
  const text = readFileSync(file, 'utf8');
  const first = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text);
  assert.ok(first, 'configs/config.yaml must start with "# yaml-language-server: $schema=..."');
  assert.equal(readFileSync(resolve(dirname(file), first[1] as string), 'utf8'), committed);
  assertValid(parse(text), 'configs/config.yaml');
});

test('every whole config among the README yaml examples validates', () => {
  const blocks = [...readFileSync(root('README.md'), 'utf8').matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => m[1] as string);
  // A fragment (one section, no routes:) is not a config file on its own; the schema requires routes.
  const whole = blocks.map((b) => parse(b)).filter((d): d is Record<string, unknown> => d !== null && typeof d === 'object' && 'routes' in d);
  assert.ok(whole.length >= 9, `expected at least 9 whole configs in README.md, found ${whole.length}`);
  whole.forEach((doc, i) => assertValid(doc, `README.md whole config #${i + 1} (routes: ${JSON.stringify(doc.routes).slice(0, 80)})`));
});

test('the good test fixtures validate, and on every fixture without ${VAR} the editor agrees with the validator', () => {
  const dir = root('test/fixtures/config');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  let compared = 0;
  let refused = 0;
  for (const name of files) {
    const text = readFileSync(join(dir, name), 'utf8');
    let doc: unknown;
    try {
      doc = parse(text);
    } catch {
      assert.match(name, /^bad-/, `${name} does not parse`);
      continue;
    }
    if (name.startsWith('good-')) assertValid(doc, name);
    // The loader refuses alias bombs before any schema sees them; without variables, interpolation is the identity.
    if (aliasProblem(doc) !== undefined || text.includes('${')) continue;
    const validator = checkValidator(interpolate(doc, {}, []));
    assert.equal(checkEditor(doc), validator, `${name}: validator says ${validator}, editor schema says otherwise:\n${problems(checkEditor.errors)}`);
    compared += 1;
    if (!validator) refused += 1;
  }
  assert.ok(files.some((f) => f.startsWith('good-')), 'no good-*.yaml fixture found');
  assert.ok(compared >= 10 && refused >= 5, `compared ${compared} fixtures, ${refused} refused: the parity check saw too few`);
});

test('the deploy configs validate', (t) => {
  // deploy/config/ for compose; the kustomize base's ConfigMap is generated from deploy/kubernetes/config.yaml.
  const dir = root('deploy/config');
  const files = [
    ...(existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => `deploy/config/${f}`) : []),
    ...(existsSync(root('deploy/kubernetes/config.yaml')) ? ['deploy/kubernetes/config.yaml'] : []),
  ];
  if (files.length === 0) return t.skip('no deploy configs in this checkout');
  for (const name of files) assertValid(parse(readFileSync(root(name), 'utf8')), name);
});

test('a misspelled key fails the schema, naming the key', () => {
  const shipped = readFileSync(root('configs/config.yaml'), 'utf8');
  for (const [from, to] of [
    ['\nroutes:', '\nrutes:'],
    ['\nrate_limit:', '\nrate_limt:'],
    ['    upstream: ${API_UPSTREAM', '    upstrem: ${API_UPSTREAM'],
    ['  burst: 10', '  bursts: 10'],
  ] as const) {
    const text = shipped.replace(from, to);
    assert.notEqual(text, shipped, `configs/config.yaml no longer contains ${JSON.stringify(from)}`);
    assert.equal(checkEditor(parse(text)), false, `${to.trim()} was accepted`);
    const typo = to.trim().replace(/:.*/, '');
    assert.ok(
      checkEditor.errors?.some((e) => e.keyword === 'additionalProperties' && (e.params as { additionalProperty: string }).additionalProperty === typo),
      `no error names ${typo}:\n${problems(checkEditor.errors)}`,
    );
  }
});

test('${VAR} is accepted where interpolation can fill the value, and only there', () => {
  const config = (server: string, route = '') => parse(`server: ${server}\nroutes:\n  - path: /api\n    upstream: http://127.0.0.1:8000\n${route}`);
  // Validation follows interpolation, so a whole variable may stand for a number, a boolean or a constrained string.
  for (const ok of ['{ port: "${PORT:-8080}" }', '{ port: "${PORT}", workers: "${WORKERS:-auto}", trust_proxy: "${TRUST:-false}" }']) {
    assertValid(config(ok), ok);
    assert.equal(checkValidator(interpolate(config(ok), { PORT: '9090', WORKERS: '2', TRUST: '1' }, [])), true, `${ok} after interpolation`);
  }
  assertValid(config('{}', '    timeout_ms: ${T:-500}\n    tls_verify: ${V:-true}\n    rate_limit: { burst: "${BURST}" }\n'), 'route variables');
  assertValid(parse('admin: { token: "${ADMIN_TOKEN}" }\nroutes: [{ path: /a, upstream: "${UP:-http://127.0.0.1:8000}" }, { path: /b, upstream: "${SCHEME}://b:80" }]'), 'string variables');
  // A number or boolean comes only from a value that is exactly one variable; the rest is still checked.
  for (const bad of ['{ port: "80${X}" }', '{ port: 70000 }', '{ port: "${PORT" }', '{ prot: "${PORT}" }', '{ workers: some }']) {
    assert.equal(checkEditor(config(bad)), false, `${bad} was accepted`);
  }
  assert.equal(checkEditor(parse('routes: [{ path: /a, upstream: "ftp://x" }]')), false, 'ftp:// upstream was accepted');
});
