import { isMap, isScalar, LineCounter, parseDocument, visit } from 'yaml';
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

/** A config is a few kB; a file far bigger than that is the wrong file, and must not take minutes to refuse. */
export const MAX_YAML_BYTES = 1024 * 1024;

const defaultFormat = (i: z.core.$ZodIssue) =>
  `${i.path.map(String).join('.') || '(top level)'}: ${i.message}`;

/**
 * zod reports a bad record key as "Invalid key in record" with the key schema's own issues
 * inside; those say what is wrong (e.g. the pattern keys must match), so they are reported.
 */
export function flattenIssues(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  return issues.flatMap((i) =>
    i.code === 'invalid_key'
      ? flattenIssues(i.issues).map((inner) => ({ ...inner, path: [...i.path, ...inner.path] }))
      : [i],
  );
}

/**
 * Keys that appear twice in one mapping, as "line N: ...". The yaml library's own check compares
 * each key with every earlier one, which takes minutes on a big file; a set per mapping is linear.
 */
function duplicateKeys(doc: ReturnType<typeof parseDocument>, lines: LineCounter): string[] {
  const problems: string[] = [];
  visit(doc, {
    Map(_, map) {
      if (!isMap(map)) return;
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        if (seen.has(pair.key.value)) {
          const line = lines.linePos(pair.key.range?.[0] ?? 0).line;
          problems.push(`line ${line}: the key "${String(pair.key.value)}" appears twice in one mapping`);
        }
        seen.add(pair.key.value);
      }
    },
  });
  return problems;
}

/** Parses YAML (or JSON) text and validates it, reporting every problem at once. */
export function parseYamlWith<S extends z.ZodType>(
  schema: S,
  text: string,
  file: string,
  opts: YamlSchemaOptions,
): z.infer<S> {
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_YAML_BYTES) {
    throw new SitepipeError(
      'CONFIG_TOO_LARGE',
      `${file} is ${(bytes / 1e6).toFixed(1)} MB; a config may be at most 1 MB`,
      'check that --config names the sitepipe config, not another file',
    );
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: false, lineCounter: lines });
  const problems = [...doc.errors.map((e) => e.message), ...duplicateKeys(doc, lines)];
  if (problems.length > 0) {
    throw new SitepipeError(
      opts.code,
      `${file} is not valid YAML`,
      'fix the YAML syntax at the lines shown',
      problems,
    );
  }
  const result = schema.safeParse(doc.toJS() ?? {});
  if (!result.success) {
    const issues = flattenIssues(result.error.issues).map(opts.formatIssue ?? defaultFormat);
    throw new SitepipeError(
      opts.code,
      `${file} has ${issues.length} problem${issues.length === 1 ? '' : 's'}`,
      opts.hint,
      issues,
    );
  }
  return result.data;
}
