import { Ajv, type ValidateFunction } from 'ajv';
import { load as loadYaml, CORE_SCHEMA } from 'js-yaml';
import { editorSchema } from '../../src/config/editor-schema.js';
import { configSchema } from '../../src/config/schema.js';

let validate: ValidateFunction | undefined;

/**
 * Issue 19: every test config validates against the editor schema
 * (`throttlegate.schema.json`, which config-schema-file.test.ts holds equal
 * to editorSchema(configSchema)). startGateway calls this for each config
 * the validator accepted, so a config an editor would flag while the gateway
 * runs it fails the test that uses it.
 */
export function assertEditorSchemaAccepts(yaml: string): void {
  validate ??= new Ajv({ strict: true, allErrors: true, allowUnionTypes: true }).compile(editorSchema(configSchema));
  const doc = loadYaml(yaml, { schema: CORE_SCHEMA });
  if (!validate(doc)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`).join('; ');
    throw new Error(`the editor schema (throttlegate.schema.json) rejects a config the gateway accepts: ${problems}`);
  }
}
