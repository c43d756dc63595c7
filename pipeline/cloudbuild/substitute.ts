import { SitepipeError } from '../errors.js';
import type { BuildConfig, BuildStep } from './build-config.js';

/**
 * Cloud Build's substitution rules, as documented in "Substituting variable values"
 * (https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values) and as
 * the open-source local builder validates them (GoogleCloudPlatform/cloud-build-local,
 * subst/subst.go and validate/validate.go). What this module implements:
 *
 * - Built-ins for every build: PROJECT_ID, BUILD_ID, PROJECT_NUMBER, LOCATION; for triggered
 *   builds also TRIGGER_NAME, COMMIT_SHA, REVISION_ID, SHORT_SHA (first 7 of COMMIT_SHA),
 *   REPO_NAME, REPO_FULL_NAME, BRANCH_NAME, TAG_NAME, REF_NAME, TRIGGER_BUILD_CONFIG_PATH,
 *   SERVICE_ACCOUNT_EMAIL, SERVICE_ACCOUNT. A built-in with no value (e.g. BRANCH_NAME in a
 *   tag build) becomes the empty string.
 * - The substitution data (the file's `substitutions:` overridden by the request's) may hold
 *   user keys, which must match ^_[A-Z0-9_]+$, and these overridable built-ins: COMMIT_SHA,
 *   REVISION_ID, SHORT_SHA, REPO_NAME, BRANCH_NAME, TAG_NAME (what `gcloud builds submit
 *   --substitutions` may set). Any other key is an error. At most 200 keys; a key is at most
 *   100 bytes and a value at most 4000 bytes.
 * - In the template, `$KEY` and `${KEY}` are substitutions when KEY matches [A-Z_][A-Z0-9_]*
 *   (the unbraced form takes the longest such name; use braces to end it early, `${_A}_B`).
 *   `$$` is a literal `$`. A `$` followed by anything else (`$foo`, `$1`, `${x}`) is left as is.
 * - A template key that is neither in the data nor a built-in: if it has the user form (`_X`)
 *   it is "not matched in the substitution data", an error unless
 *   options.substitutionOption is ALLOW_LOOSE (then it becomes empty); otherwise it is "not
 *   a valid built-in substitution", an error whatever the option (Cloud Build rejects
 *   `$HOME` in args of triggered builds too, where ALLOW_LOOSE is the default).
 * - A user key in the data that no template field uses is an error unless ALLOW_LOOSE
 *   ("key in the substitution data is not matched in the template"). automapSubstitutions
 *   uses every key (it maps them all to env).
 * - Fields substituted: each step's name, args, env, dir and entrypoint; images; tags;
 *   artifacts.objects location and paths; options.env; logsBucket; the secretManager
 *   versionName of availableSecrets. A step's `script` is not substituted (the docs: scripts
 *   read substitutions through env, e.g. with automapSubstitutions).
 * - options.dynamicSubstitutions: true (always on for triggered builds) enables bash
 *   parameter expansion: the values of the substitution data may refer to other substitutions
 *   (`_IMAGE: gcr.io/$PROJECT_ID/site`), and `${KEY<op>}` works in values and templates for the
 *   ops :offset[:length], :-word, -word, :+word, #pat, ##pat, %pat, %%pat, /pat/rep,
 *   //pat/rep, ^, ^^, ",", ",,", and ${#KEY}. An undefined variable in a value expands to
 *   the empty string, as in bash.
 */

export const BUILT_IN_SUBSTITUTIONS = [
  'PROJECT_ID',
  'BUILD_ID',
  'PROJECT_NUMBER',
  'LOCATION',
  'TRIGGER_NAME',
  'COMMIT_SHA',
  'REVISION_ID',
  'SHORT_SHA',
  'REPO_NAME',
  'REPO_FULL_NAME',
  'BRANCH_NAME',
  'TAG_NAME',
  'REF_NAME',
  'TRIGGER_BUILD_CONFIG_PATH',
  'SERVICE_ACCOUNT_EMAIL',
  'SERVICE_ACCOUNT',
] as const;
export type BuiltInSubstitution = (typeof BUILT_IN_SUBSTITUTIONS)[number];

/** Built-ins that the substitution data may override (gcloud builds submit --substitutions). */
export const OVERRIDABLE_BUILT_INS: ReadonlySet<string> = new Set([
  'COMMIT_SHA',
  'REVISION_ID',
  'SHORT_SHA',
  'REPO_NAME',
  'BRANCH_NAME',
  'TAG_NAME',
]);

const BUILT_IN_SET: ReadonlySet<string> = new Set(BUILT_IN_SUBSTITUTIONS);
const USER_KEY = /^_[A-Z0-9_]+$/;
const KEY_AT_START = /^[A-Z_][A-Z0-9_]*/;
const MAX_KEYS = 200;
const MAX_KEY_BYTES = 100;
const MAX_VALUE_BYTES = 4000;

export type SubstitutionOption = 'MUST_MATCH' | 'ALLOW_LOOSE';

export interface SubstitutionRequest {
  /** Built-in values known for this build; the others are empty. */
  builtIns: Partial<Record<BuiltInSubstitution, string>>;
  /** The request's substitutions (override the file's), e.g. from --substitutions. */
  overrides?: Record<string, string>;
}

export interface SubstitutionResult {
  build: BuildConfig;
  /** Every substitution value in effect (built-ins and data), for automapSubstitutions. */
  values: Record<string, string>;
  /** Problems that ALLOW_LOOSE turned into warnings. */
  warnings: string[];
}

/** Checks the keys of the substitution data; returns one line per problem. */
export function checkSubstitutionKeys(data: Record<string, string>): string[] {
  const problems: string[] = [];
  const keys = Object.keys(data);
  if (keys.length > MAX_KEYS) problems.push(`${keys.length} substitutions; at most ${MAX_KEYS} are allowed`);
  for (const [key, value] of Object.entries(data)) {
    if (Buffer.byteLength(key) > MAX_KEY_BYTES)
      problems.push(`substitution key "${key}" is longer than 100 bytes`);
    if (!USER_KEY.test(key) && !OVERRIDABLE_BUILT_INS.has(key)) {
      problems.push(
        `substitution key "${key}" does not match ^_[A-Z0-9_]+$ and is not an overridable built-in (${[...OVERRIDABLE_BUILT_INS].join(', ')})`,
      );
    }
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) {
      problems.push(`the value of substitution "${key}" is longer than 4000 bytes`);
    }
  }
  return problems;
}

type Token = { kind: 'text'; text: string } | { kind: 'ref'; key: string; expr: string | null };

/** Index of the `}` closing a `${` whose content starts at `from`, honouring nested `${…}`; -1 if none. */
function closingBrace(input: string, from: number): number {
  let depth = 1;
  for (let i = from; i < input.length; i++) {
    if (input[i] === '$' && input[i + 1] === '{') {
      depth++;
      i++;
    } else if (input[i] === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Splits a template into text and substitution references, following the rules above. */
export function tokenize(input: string, dynamic: boolean): Token[] {
  const tokens: Token[] = [];
  let text = '';
  let i = 0;
  while (i < input.length) {
    const ch = input[i];
    if (ch !== '$') {
      text += ch;
      i++;
      continue;
    }
    if (input[i + 1] === '$') {
      text += '$';
      i += 2;
      continue;
    }
    const rest = input.slice(i + 1);
    if (rest.startsWith('{')) {
      const end = closingBrace(input, i + 2);
      const inner = end < 0 ? '' : input.slice(i + 2, end);
      const key = KEY_AT_START.exec(inner)?.[0];
      if (key && key === inner) {
        if (text) tokens.push({ kind: 'text', text });
        text = '';
        tokens.push({ kind: 'ref', key, expr: null });
        i = end + 1;
        continue;
      }
      const lengthOf = /^#([A-Z_][A-Z0-9_]*)$/.exec(inner)?.[1];
      if (dynamic && end >= 0 && (key || lengthOf)) {
        if (text) tokens.push({ kind: 'text', text });
        text = '';
        tokens.push({ kind: 'ref', key: key ?? lengthOf ?? '', expr: inner });
        i = end + 1;
        continue;
      }
      text += '$';
      i++;
      continue;
    }
    const key = KEY_AT_START.exec(rest)?.[0];
    if (key) {
      if (text) tokens.push({ kind: 'text', text });
      text = '';
      tokens.push({ kind: 'ref', key, expr: null });
      i += 1 + key.length;
      continue;
    }
    text += '$';
    i++;
  }
  if (text) tokens.push({ kind: 'text', text });
  return tokens;
}

/** A shell glob (* ? [...]) as a regular expression source. */
function globSource(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else if (c === '\\' && i + 1 < pattern.length)
      out += (pattern[++i] ?? '').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) out += '\\[';
      else {
        out += `[${pattern.slice(i + 1, close).replace(/^!/, '^')}]`;
        i = close;
      }
    } else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}

/** The shortest or longest prefix/suffix of `value` matching glob `pattern`, removed. */
function trim(value: string, pattern: string, side: 'prefix' | 'suffix', longest: boolean): string {
  const re = new RegExp(`^${globSource(pattern)}$`, 's');
  const lengths = [...Array(value.length + 1).keys()];
  if (longest) lengths.reverse();
  for (const n of lengths) {
    const part = side === 'prefix' ? value.slice(0, n) : value.slice(value.length - n);
    if (re.test(part)) return side === 'prefix' ? value.slice(n) : value.slice(0, value.length - n);
  }
  return value;
}

type Expansion = [
  RegExp,
  (m: RegExpExecArray, value: string, raw: string | undefined, word: (text: string) => string) => string,
];

/** The bash operators after a name, each with what it does to the value. */
const EXPANSIONS: readonly Expansion[] = [
  [/^:-(.*)$/s, (m, value, _raw, word) => (value === '' ? word(m[1] ?? '') : value)],
  [/^-(.*)$/s, (m, value, raw, word) => (raw === undefined ? word(m[1] ?? '') : value)],
  [/^:\+(.*)$/s, (m, value, _raw, word) => (value === '' ? '' : word(m[1] ?? ''))],
  [
    /^:\s*(-?\d+)(?::\s*(-?\d+))?$/,
    (m, value) => {
      let start = Number(m[1]);
      if (start < 0) start = Math.max(0, value.length + start);
      if (m[2] === undefined) return value.slice(start);
      const length = Number(m[2]);
      return length < 0
        ? value.slice(start, Math.max(start, value.length + length))
        : value.slice(start, start + length);
    },
  ],
  [/^(##?)(.*)$/s, (m, value, _raw, word) => trim(value, word(m[2] ?? ''), 'prefix', m[1] === '##')],
  [/^(%%?)(.*)$/s, (m, value, _raw, word) => trim(value, word(m[2] ?? ''), 'suffix', m[1] === '%%')],
  [
    /^\/([/#%]?)((?:\\.|[^/])*)(?:\/(.*))?$/s,
    (m, value, _raw, word) => {
      const mode = m[1] ?? '';
      const pattern = globSource(word(m[2] ?? ''));
      const replacement = word(m[3] ?? '');
      if (pattern === '') return value;
      const source = mode === '#' ? `^(?:${pattern})` : mode === '%' ? `(?:${pattern})$` : pattern;
      // Bash matches the longest string at each position, as greedy regexes do.
      return value.replace(new RegExp(source, mode === '/' ? 'gs' : 's'), () => replacement);
    },
  ],
  [/^\^\^$/, (_m, value) => value.toUpperCase()],
  [/^,,$/, (_m, value) => value.toLowerCase()],
  [/^\^$/, (_m, value) => value.charAt(0).toUpperCase() + value.slice(1)],
  [/^,$/, (_m, value) => value.charAt(0).toLowerCase() + value.slice(1)],
];

/**
 * Bash parameter expansion of `${expr}` for the ops listed in the module comment. `get` returns
 * a variable's value (undefined when unset); `word` expands nested references in operands.
 */
export function expandParameter(
  expr: string,
  get: (key: string) => string | undefined,
  word: (text: string) => string,
): string {
  const lengthOf = /^#([A-Z_][A-Z0-9_]*)$/.exec(expr);
  if (lengthOf?.[1]) return String((get(lengthOf[1]) ?? '').length);
  const key = KEY_AT_START.exec(expr)?.[0] ?? '';
  const op = expr.slice(key.length);
  const raw = get(key);
  const value = raw ?? '';
  if (op === '') return value;
  for (const [re, apply] of EXPANSIONS) {
    const m = re.exec(op);
    if (m) return apply(m, value, raw, word);
  }
  throw new Error(`unsupported parameter expansion \${${expr}}`);
}

/** Applies one build's substitutions to its fields, collecting every problem. */
class Substituter {
  readonly used = new Set<string>();
  readonly problems: string[] = [];
  readonly warnings: string[] = [];

  constructor(
    private readonly data: ReadonlyMap<string, string>,
    private readonly builtIns: Readonly<Record<string, string>>,
    private readonly option: SubstitutionOption,
    private readonly dynamic: boolean,
  ) {}

  private lookup(key: string, where: string): string {
    const value = this.data.get(key);
    if (value !== undefined) {
      this.used.add(key);
      return value;
    }
    if (BUILT_IN_SET.has(key)) return this.builtIns[key] ?? '';
    if (USER_KEY.test(key)) {
      const message = `${where}: key in the template "${key}" is not matched in the substitution data`;
      if (this.option === 'ALLOW_LOOSE') this.warnings.push(message);
      else
        this.problems.push(
          `${message} (define it in substitutions, or set options.substitutionOption: ALLOW_LOOSE)`,
        );
      return '';
    }
    this.problems.push(
      `${where}: key in the template "${key}" is not a valid built-in substitution (write $$${key} for a literal $${key}, e.g. a shell variable)`,
    );
    return '';
  }

  apply(input: string, where: string): string {
    let out = '';
    for (const token of tokenize(input, this.dynamic)) {
      if (token.kind === 'text') {
        out += token.text;
        continue;
      }
      const value = this.lookup(token.key, where);
      if (token.expr === null) {
        out += value;
        continue;
      }
      try {
        out += expandParameter(
          token.expr,
          (k) => (k === token.key ? value : this.lookup(k, where)),
          (text) => this.apply(text, where),
        );
      } catch (e) {
        this.problems.push(`${where}: ${(e as Error).message}`);
      }
    }
    return out;
  }

  applyAll(list: readonly string[] | undefined, where: string): string[] | undefined {
    return list?.map((s, i) => this.apply(s, `${where}[${i}]`));
  }
}

/**
 * With dynamic substitutions, the data's values may refer to built-ins and to each other;
 * evaluates them all (undefined names are empty, as in bash; a cycle is an error).
 */
function evaluateValues(
  data: ReadonlyMap<string, string>,
  builtIns: Readonly<Record<string, string>>,
  problems: string[],
): Map<string, string> {
  const done = new Map<string, string>();
  const active = new Set<string>();
  const resolve = (key: string): string | undefined => {
    const known = done.get(key);
    if (known !== undefined) return known;
    const raw = data.get(key);
    if (raw === undefined) return builtIns[key];
    if (active.has(key)) {
      problems.push(`substitutions.${key}: cycle in evaluating substitutions`);
      return '';
    }
    active.add(key);
    const value = expand(raw, `substitutions.${key}`);
    active.delete(key);
    done.set(key, value);
    return value;
  };
  const expand = (text: string, where: string): string => {
    let out = '';
    for (const token of tokenize(text, true)) {
      if (token.kind === 'text') out += token.text;
      else if (token.expr === null) out += resolve(token.key) ?? '';
      else {
        try {
          out += expandParameter(token.expr, resolve, (t) => expand(t, where));
        } catch (e) {
          problems.push(`${where}: ${(e as Error).message}`);
        }
      }
    }
    return out;
  };
  for (const key of data.keys()) resolve(key);
  return done;
}

function substituteStep(step: BuildStep, s: Substituter, index: number): BuildStep {
  const where = `steps[${index}]`;
  const out: BuildStep = { ...step, name: s.apply(step.name, `${where}.name`) };
  if (step.args) out.args = s.applyAll(step.args, `${where}.args`);
  if (step.env) out.env = s.applyAll(step.env, `${where}.env`);
  if (step.dir !== undefined) out.dir = s.apply(step.dir, `${where}.dir`);
  if (step.entrypoint !== undefined) out.entrypoint = s.apply(step.entrypoint, `${where}.entrypoint`);
  return out;
}

/** The substitution data in effect: the file's `substitutions:`, overridden by the request's. */
export function substitutionData(build: BuildConfig, overrides: Record<string, string> = {}) {
  return { ...(build.substitutions ?? {}), ...overrides };
}

/**
 * Applies Cloud Build's substitutions to a build. Throws a SitepipeError listing every problem;
 * problems that options.substitutionOption: ALLOW_LOOSE tolerates come back as warnings.
 */
export function substituteBuild(build: BuildConfig, request: SubstitutionRequest): SubstitutionResult {
  const option: SubstitutionOption = build.options?.substitutionOption ?? 'MUST_MATCH';
  const dynamic = build.options?.dynamicSubstitutions === true;
  const rawData = substitutionData(build, request.overrides);
  const problems = checkSubstitutionKeys(rawData);
  const builtIns: Record<string, string> = {};
  for (const key of BUILT_IN_SUBSTITUTIONS) builtIns[key] = request.builtIns[key] ?? '';
  let data = new Map(Object.entries(rawData));
  if (dynamic) data = evaluateValues(data, builtIns, problems);
  const s = new Substituter(data, builtIns, option, dynamic);

  const out: BuildConfig = { ...build, steps: build.steps.map((step, i) => substituteStep(step, s, i)) };
  if (build.images) out.images = s.applyAll(build.images, 'images');
  if (build.tags) out.tags = s.applyAll(build.tags, 'tags');
  if (build.logsBucket !== undefined) out.logsBucket = s.apply(build.logsBucket, 'logsBucket');
  if (build.options?.env)
    out.options = { ...build.options, env: s.applyAll(build.options.env, 'options.env') };
  const objects = build.artifacts?.objects;
  if (objects) {
    out.artifacts = {
      ...build.artifacts,
      objects: {
        ...objects,
        ...(objects.location !== undefined
          ? { location: s.apply(objects.location, 'artifacts.objects.location') }
          : {}),
        ...(objects.paths ? { paths: s.applyAll(objects.paths, 'artifacts.objects.paths') } : {}),
      },
    };
  }
  const managed = build.availableSecrets?.secretManager;
  if (managed && build.availableSecrets) {
    out.availableSecrets = {
      ...build.availableSecrets,
      secretManager: managed.map((m, i) => ({
        ...m,
        versionName: s.apply(m.versionName, `availableSecrets.secretManager[${i}].versionName`),
      })),
    };
  }

  const automapAll =
    build.options?.automapSubstitutions === true || build.steps.some((st) => st.automapSubstitutions);
  if (!automapAll) {
    for (const key of data.keys()) {
      if (s.used.has(key)) continue;
      const message = `key "${key}" in the substitution data is not matched in the template`;
      if (option === 'ALLOW_LOOSE') s.warnings.push(message);
      else s.problems.push(`${message} (use it, remove it, or set options.substitutionOption: ALLOW_LOOSE)`);
    }
  }
  problems.push(...s.problems);
  if (problems.length > 0) {
    throw new SitepipeError(
      'SUBSTITUTION_INVALID',
      `${problems.length} substitution problem${problems.length === 1 ? '' : 's'} in the build`,
      'Cloud Build would reject this build the same way; see https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values',
      problems,
    );
  }
  return { build: out, values: { ...builtIns, ...Object.fromEntries(data) }, warnings: s.warnings };
}
