import { configSchema } from './schema.js';

/**
 * The config file's JSON Schema as an editor reads it (yaml-language-server,
 * `throttlegate.schema.json`), derived from the validator's own schema so the
 * two cannot drift. The validator's schema uses draft-07 keywords only (the
 * schema-file test compiles this result with a bare strict Ajv, so an
 * ajv-only keyword added to schema.ts fails there and belongs stripped here).
 *
 * One real difference remains: load.ts validates AFTER interpolate.ts has
 * replaced `${VAR}` / `${VAR:-default}`, but an editor sees the file BEFORE.
 * `port: ${PORT:-8080}` is the number 8080 to the validator and a string to
 * the editor, so every value a variable could legally fill is widened to also
 * accept one. The editor then cannot check what the variable holds; the
 * validator (`throttlegate validate`) still does, along with the rules no
 * schema can say (duplicate routes, limit fields per algorithm).
 */

type Schema = Record<string, unknown>;

const NAME = '[A-Za-z_][A-Za-z0-9_]*';
// The same forms as interpolate.ts's VARIABLE and WHOLE_VARIABLE.
const definitions = {
  // Only a value that is exactly one variable is re-read as a YAML scalar, so only it can become a number or boolean.
  variable: {
    type: 'string',
    pattern: `^\\$\\{${NAME}(:-[^}]*)?\\}$`,
    description: 'An environment variable, ${NAME} or ${NAME:-default}, replaced before the config is validated',
  },
  // In a string, a variable anywhere may make the value match once replaced.
  text_with_variable: {
    type: 'string',
    pattern: `\\$\\{${NAME}(:-[^}]*)?\\}`,
    description: 'A string holding ${NAME} or ${NAME:-default}, replaced before the config is validated',
  },
} as const;

const WHOLE = { $ref: '#/definitions/variable' };
const EMBEDDED = { $ref: '#/definitions/text_with_variable' };

/** The validator's schema with `$schema`, `$id`, `title`, and `${VAR}` accepted wherever a variable could fill a value. */
export function editorSchema(validatorSchema: Schema): Schema {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'urn:throttlegate:config',
    title: 'Throttlegate config file',
    description: 'The gateway config file (configs/config.yaml). `throttlegate validate` also checks what a schema cannot say.',
    ...relax(validatorSchema),
    definitions,
  };
}

/** throttlegate.schema.json exactly as `throttlegate schema` prints it and the repo ships it. */
export function editorSchemaText(): string {
  return `${JSON.stringify(editorSchema(configSchema), null, 2)}\n`;
}

/**
 * A copy of `node` whose scalars also accept the variable form that could fill
 * them (`inUnion`: the union adds it once). It walks the applicators schema.ts
 * uses; a oneOf would need care (a variable branch could match twice).
 */
function relax(node: Schema, inUnion = false): Schema {
  const out: Schema = { ...node };
  for (const key of ['properties', 'patternProperties'] as const) {
    const map = node[key] as Record<string, Schema> | undefined;
    if (map !== undefined) out[key] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, relax(v)]));
  }
  // propertyNames is left alone: interpolation replaces values, never keys.
  for (const key of ['additionalProperties', 'items'] as const) {
    const child = node[key];
    if (child !== null && typeof child === 'object' && !Array.isArray(child)) out[key] = relax(child as Schema);
  }
  if (Array.isArray(node.anyOf)) {
    const branches = node.anyOf as Schema[];
    const kinds = branches.map(variableKind);
    const kind = kinds.includes('embedded') ? 'embedded' : kinds.includes('whole') ? 'whole' : undefined;
    out.anyOf = [...branches.map((b) => relax(b, true)), ...(kind === undefined ? [] : [kind === 'embedded' ? EMBEDDED : WHOLE])];
    return out;
  }
  const kind = inUnion ? undefined : variableKind(node);
  return kind === undefined ? out : { anyOf: [out, kind === 'embedded' ? EMBEDDED : WHOLE] };
}

/**
 * Which variable form a scalar schema must also take, if any: a number, an
 * integer, a boolean or a non-string constant can come only from a whole
 * variable; a constrained string from a variable anywhere in it. Objects and
 * arrays never come from a variable (interpolation yields scalars only).
 */
function variableKind(node: Schema): 'whole' | 'embedded' | undefined {
  const types = node.type === undefined ? [] : ([] as unknown[]).concat(node.type);
  const values = 'const' in node ? [node.const] : Array.isArray(node.enum) ? (node.enum as unknown[]) : [];
  const constrainsString =
    values.some((v) => typeof v === 'string') ||
    ((types.length === 0 || types.includes('string')) &&
      // `${A}`, the shortest variable, is 4 characters: a lower minLength accepts every variable already.
      ('pattern' in node || 'format' in node || 'maxLength' in node || (typeof node.minLength === 'number' && node.minLength > 4)));
  if (constrainsString) return 'embedded';
  if (types.some((t) => t === 'number' || t === 'integer' || t === 'boolean')) return 'whole';
  if (values.some((v) => typeof v === 'number' || typeof v === 'boolean')) return 'whole';
  return undefined;
}
