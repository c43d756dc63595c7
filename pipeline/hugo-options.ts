import { z } from 'zod';

/**
 * `hugo.args`, `hugo.env` and `hugo.environment`: what a site is built with besides its own
 * config, the same for the local render (oci builder), the Docker build and Cloud Build.
 */

/** Flags sitepipe sets itself, or that make no site to ship, and what to do instead. */
const OWNED_FLAGS: readonly { long: string; short?: string; instead: string }[] = [
  { long: 'source', short: 's', instead: 'sitepipe sets it: point site.dir at the site' },
  { long: 'destination', short: 'd', instead: 'sitepipe renders into its state dir' },
  { long: 'cacheDir', instead: "sitepipe keeps Hugo's cache in its own cache dir" },
  { long: 'baseURL', short: 'b', instead: 'set site.baseURL' },
  { long: 'environment', short: 'e', instead: 'set hugo.environment' },
  { long: 'logFile', instead: "sitepipe reads Hugo's log for its error report" },
  { long: 'watch', short: 'w', instead: 'a build runs once; drop it' },
  { long: 'renderToMemory', instead: 'it writes no site to ship; drop it' },
];

/** Hugo's subcommands (and aliases): hugo.args are flags of the build itself. */
const SUBCOMMANDS = new Set([
  'server',
  'serve',
  'new',
  'deploy',
  'mod',
  'config',
  'convert',
  'env',
  'gen',
  'import',
  'list',
  'version',
  'completion',
  'help',
]);

/** Flags (each taking a value) that change what `hugo config` reads, and that it accepts. */
const CONFIG_FLAGS = ['config', 'configDir', 'themesDir', 'ignoreVendorPaths'];

/** Control characters: no argv holds a NUL, and a Dockerfile ARG (Cloud Build bakes them in) no newline. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Why `arg` (at `index` of hugo.args) is refused, or null. */
export function hugoArgProblem(args: readonly string[], index: number): string | null {
  const arg = args[index] as string;
  if (arg === '') return 'is empty';
  if (CONTROL.test(arg))
    return 'holds a control character (a newline?): give each flag and value as its own item';
  if (arg.startsWith('--')) {
    const name = arg.slice(2).split('=')[0]?.toLowerCase();
    const owned = OWNED_FLAGS.find((f) => f.long.toLowerCase() === name);
    return owned ? `--${owned.long} is not allowed: ${owned.instead}` : null;
  }
  if (arg.startsWith('-') && arg.length > 1) {
    // A group of short flags (-DF): pflag reads them one by one up to one that takes a value.
    for (const letter of arg.slice(1).split('=')[0] ?? '') {
      const owned = OWNED_FLAGS.find((f) => f.short === letter);
      if (owned) return `-${letter} (--${owned.long}) is not allowed: ${owned.instead}`;
    }
    return null;
  }
  if (SUBCOMMANDS.has(arg.toLowerCase())) {
    return `\`${arg}\` is a Hugo command: hugo.args are flags of the build (\`hugo --minify\`); write a value as --flag=${arg}`;
  }
  const previous = args[index - 1];
  if (previous === undefined || !previous.startsWith('-') || previous.includes('=')) {
    return `\`${arg}\` follows no flag: hugo.args are flags and their values, e.g. [--theme, ananke]`;
  }
  return null;
}

/** Variables sitepipe sets for Hugo, or that another key sets. */
const OWNED_ENV: Record<string, string> = {
  HUGO_RESOURCEDIR: "sitepipe keeps Hugo's resources in its state dir",
  HUGO_PUBLISHDIR: 'sitepipe renders into its state dir',
  HUGO_CACHEDIR: "sitepipe keeps Hugo's cache in its own cache dir",
  HUGO_BASEURL: 'set site.baseURL',
  HUGO_ENVIRONMENT: 'set hugo.environment',
  HUGO_ENV: 'set hugo.environment',
};

export function hugoEnvProblem(name: string, value: string): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 'is not a variable name (letters, digits, _)';
  const owned = OWNED_ENV[name.toUpperCase()];
  if (owned) return `is not allowed: ${owned}`;
  if (/^SITEPIPE_/i.test(name)) return 'is not allowed: SITEPIPE_* variables are sitepipe’s own';
  if (CONTROL.test(value))
    return 'holds a control character (a newline?), which a Docker build arg cannot carry';
  return null;
}

export const hugoArgsSchema = z
  .array(z.string())
  .default([])
  .superRefine((args, ctx) => {
    for (let i = 0; i < args.length; i++) {
      const problem = hugoArgProblem(args, i);
      if (problem) ctx.addIssue({ code: 'custom', path: [i], message: `${args[i]}: ${problem}` });
    }
  })
  .describe(
    'flags for `hugo`, e.g. [--minify, --theme, ananke]; sitepipe sets --source, --destination, --baseURL',
  );

export const hugoEnvSchema = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
  .default({})
  .superRefine((env, ctx) => {
    for (const [name, value] of Object.entries(env)) {
      const problem = hugoEnvProblem(name, value);
      if (problem) ctx.addIssue({ code: 'custom', path: [name], message: problem });
    }
  })
  .describe('environment variables for Hugo, in both builders, e.g. { HUGO_ENABLEGITINFO: "false" }');

export const hugoEnvironmentSchema = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, 'must be an environment name like production or staging')
  .default('production')
  .describe('Hugo build environment (--environment): selects config/<environment>/');

/** The hugo.args that change the site config `hugo config` prints (it refuses the others). */
export function hugoConfigArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const name = arg.startsWith('--') ? arg.slice(2).split('=')[0] : undefined;
    if (name === undefined || !CONFIG_FLAGS.includes(name)) continue;
    out.push(arg);
    const value = args[i + 1];
    if (!arg.includes('=') && value !== undefined) {
      out.push(value);
      i++;
    }
  }
  return out;
}

/** Words for `eval "set -- $WORDS"` in sh: each exactly the string given, whatever it holds. */
export function shellWords(words: readonly string[]): string {
  return words.map((w) => `'${w.replaceAll("'", `'\\''`)}'`).join(' ');
}

/**
 * Whether hugo.args or hugo.env turn on Hugo's git info (the flag wins over the variable, as in
 * Hugo). The Docker build cannot give it: its context holds no .git, and Hugo then fails.
 */
export function enablesGitInfo(args: readonly string[], env: Record<string, string>): boolean {
  let fromFlag: boolean | undefined;
  for (const arg of args) {
    const m = /^--enableGitInfo(?:=(.*))?$/i.exec(arg);
    if (m) fromFlag = m[1] === undefined || m[1].toLowerCase() === 'true';
  }
  return fromFlag ?? env.HUGO_ENABLEGITINFO?.toLowerCase() === 'true';
}
