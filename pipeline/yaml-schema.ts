import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { SitepipeError } from './errors.js';

export interface YamlSchemaOptions {
  /** The error code for both bad YAML and a failed schema. */
  code: string;
  /** Hint when the schema fails. */
  hint: string;
  /** One line per problem; `path: message` by default. */
  formatIssue?: (issue: z.core.$ZodIssue) => string;
}

const defaultFormat = (i: z.core.$ZodIssue) =>
  `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`;

/** Parses YAML (or JSON) text and validates it, reporting every problem at once. */
export function parseYamlWith<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
  opts: YamlSchemaOptions,
): z.infer<S> {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new SitepipeError(
      opts.code,
      `${file} is not valid YAML`,
      'fix the YAML syntax at the lines shown',
      doc.errors.map((e) => e.message),
    );
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    const lines = result.error.issues.map(opts.formatIssue ?? defaultFormat);
    throw new SitepipeError(
      opts.code,
      `${file} has ${lines.length} problem${lines.length === 1 ? '' : 's'}`,
      opts.hint,
      lines,
    );
  }
  return result.data;
}
