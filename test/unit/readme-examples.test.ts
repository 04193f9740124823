import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfig } from '../../src/config/load.js';

/**
 * The README's config examples are configs: each YAML block of the "Limit
 * policies" and "Cookbook" sections must pass validation as written (plus
 * what it leaves to other blocks: a plan for its keys, a file for
 * api_keys_file is replaced by an inline key), so docs cannot drift from code.
 */
const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Limit policies'), readme.indexOf('## Admin API'));
const blocks = [...section.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);

const ROUTE = 'routes:\n  - path: /x\n    upstream: http://127.0.0.1:1\n';
const KEY = 'sha256:' + '0'.repeat(64);

function complete(block: string): string {
  let yaml = block
    .replace(/hash: "sha256:\.\.\."/g, `hash: "sha256:${'1'.repeat(64)}"`)
    .replace(/^api_keys_file: .*$/m, `api_keys: [ { id: acme, hash: "${KEY}", plan: pro } ]`);
  if (/^(allow|deny):/m.test(yaml) && !/^api_keys:/m.test(yaml)) {
    yaml += `api_keys: [ { id: acme, hash: "${KEY}" }, { id: trial-42, hash: "sha256:${'2'.repeat(64)}" } ]\n`;
  }
  if (/^api_keys:/m.test(yaml) && !/^plans:/m.test(yaml)) yaml += 'plans: { pro: { limits: [ { requests_per_second: 1, burst: 1 } ] }, free: { limits: [ { requests_per_second: 1, burst: 1 } ] } }\n';
  if (!/^routes:/m.test(yaml)) yaml += ROUTE;
  return yaml;
}

test('the README has the policy examples this test reads', () => {
  assert.ok(blocks.length >= 7, `found ${blocks.length} yaml blocks`);
});

for (const [i, block] of blocks.entries()) {
  test(`README policy example ${i + 1} is a valid config: ${block.split('\n')[0]}`, () => {
    // The variables the examples name, as a deployment would set them.
    const env = { DATABASE_URL: 'postgres://gateway:secret@db.internal:5432/gateway', ADMIN_TOKEN: 'an-admin-token-of-some-length' };
    const config = parseConfig(complete(block), `README example ${i + 1}`, env);
    assert.ok(config.routes.length >= 1);
  });
}
