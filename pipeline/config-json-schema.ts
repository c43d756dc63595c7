import { join } from 'node:path';
import { z } from 'zod';
import { configSchema } from './config.js';
import { packageRoot } from './paths.js';

/**
 * Where the package ships the config's JSON Schema: written by `npm run build`
 * (pipeline/write-config-schema.ts), so it never drifts from the schema it is made from.
 */
export const CONFIG_SCHEMA_FILE = join('dist', 'schema', 'sitepipe.schema.json');

export function configSchemaPath(): string {
  return join(packageRoot(), CONFIG_SCHEMA_FILE);
}

/**
 * The JSON Schema of sitepipe.yaml, for editors (yaml-language-server). The input side: what a
 * user writes, keys with defaults optional. Checks zod runs in code (an image name's grammar,
 * refused Hugo flags) are not representable and are left to `sitepipe run`'s validation.
 */
export function configJsonSchema(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
  const titled = {
    ...schema,
    title: 'sitepipe.yaml',
    description: 'sitepipe config (README.md documents every key)',
  };
  return `${JSON.stringify(titled, null, 2)}\n`;
}
