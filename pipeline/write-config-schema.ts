// Run by `npm run build`: writes the config's JSON Schema where the package ships it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { configJsonSchema, configSchemaPath } from './config-json-schema.js';

mkdirSync(dirname(configSchemaPath()), { recursive: true });
writeFileSync(configSchemaPath(), configJsonSchema());
