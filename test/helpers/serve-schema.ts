import { createRequire } from 'node:module';
import { Ajv } from 'ajv';

// ajv comes with @kubernetes-models/validate (a dependency already). Formats (uri, date-time)
// are not checked: the shapes, required keys and types are what a receiver reads.
const schema = createRequire(import.meta.url)('@octokit/webhooks-schemas/schema.json') as object;

let ajv: Ajv | null = null;

/** Problems with `body` as the GitHub event `event` (push, ping), by @octokit/webhooks-schemas; [] when valid. */
export function githubSchemaErrors(event: string, body: unknown): string[] {
  if (!ajv) {
    ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    ajv.addSchema(schema, 'webhooks');
  }
  const validate = ajv.getSchema(`webhooks#/definitions/${event}$event`);
  if (!validate) throw new Error(`no schema for ${event}`);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
}
