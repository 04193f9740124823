import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../src/index.js';
import { flowVariableHint } from '../../src/config/interpolate.js';

const routes = 'routes:\n  - path: /api\n    upstream: http://127.0.0.1:9000\n';

function yamlError(text: string): string {
  try {
    parseConfig(text, 'flow.yaml', { PORT: '7070' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

test('an unquoted ${VAR} in a flow collection: the YAML error says to quote it', () => {
  const message = yamlError(`server: { host: 127.0.0.1, port: \${PORT} }\n${routes}`);
  assert.match(message, /YAML syntax error at line 1, column \d+/);
  assert.match(message, /must be quoted: write port: "\$\{PORT\}"/);
  // The same mistake across lines of a flow mapping.
  assert.match(yamlError(`server: {\n  host: 127.0.0.1,\n  port: \${PORT}\n}\n${routes}`), /must be quoted/);
});

test('the quoted form yields a number, in a flow collection as in a block', () => {
  for (const text of [`server: { host: 127.0.0.1, port: "\${PORT}" }\n${routes}`, `server: { port: '\${PORT:-9090}' }\n${routes}`, `server:\n  port: \${PORT}\n${routes}`]) {
    const config = parseConfig(text, 'flow.yaml', { PORT: '7070' });
    assert.equal(config.server.port, 7070);
  }
  assert.equal(parseConfig(`server: { port: "\${PORT:-9090}" }\n${routes}`, 'flow.yaml', {}).server.port, 9090);
});

test('no hint where no unquoted ${ stands on the line', () => {
  assert.equal(flowVariableHint('server: { host: "a${B}c", port: 1 '), undefined);
  assert.equal(flowVariableHint("server: { host: 'x ${Y}' "), undefined);
  assert.equal(flowVariableHint('server: { port: 80 80 }'), undefined);
  assert.doesNotMatch(yamlError(`server: { port: 80, host: [ }\n${routes}`), /must be quoted/);
});
