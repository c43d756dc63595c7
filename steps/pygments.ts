import { access, constants, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { isSitepipeError, SitepipeError } from '../pipeline/errors.js';
import { readJsonFile, writeJsonFile } from '../pipeline/json-file.js';
import { runProcess, whichAll } from '../pipeline/process.js';
import type { PygmentsInstall } from '../pipeline/records.js';
import { defineStep, type RunContext } from '../pipeline/step.js';

const PROBE_TIMEOUT_MS = 30_000;
const VENV_TIMEOUT_MS = 2 * 60_000;
const PIP_TIMEOUT_MS = 5 * 60_000;
/** The nice value of Pygments' quick runs: they overlap Hugo's render, which should keep the CPU. */
const BACKGROUND = 10;

/** What one pygmentize candidate turned out to be. */
interface Candidate {
  path: string;
  /** null when it did not run or printed no version. */
  version: string | null;
}

/** `Pygments version 2.14.0, (c) ...` -> 2.14.0 */
export function parsePygmentsVersion(output: string): string | null {
  return /\bPygments version (\d+\.\d+(?:\.\d+)?)/.exec(output)?.[1] ?? null;
}

/** 2.14 and 2.14.0 name the same release (as pip's version rules say). */
function sameVersion(a: string, b: string): boolean {
  const norm = (v: string) => (v.split('.').length === 2 ? `${v}.0` : v);
  return norm(a) === norm(b);
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function probe(path: string, ctx: RunContext): Promise<Candidate> {
  try {
    const { stdout } = await runProcess(path, ['-V'], {
      env: ctx.env,
      signal: ctx.signal,
      timeoutMs: PROBE_TIMEOUT_MS,
      nice: BACKGROUND,
    });
    return { path, version: parsePygmentsVersion(stdout) };
  } catch (e) {
    ctx.signal.throwIfAborted();
    if (!isSitepipeError(e)) throw e;
    return { path, version: null };
  }
}

function venvDir(ctx: RunContext, version: string | undefined): string {
  return join(ctx.cacheDir, 'pygments', version ?? 'latest');
}

/** `pygmentize -S`: the stylesheet, scoped to .highlight. */
async function stylesheet(path: string, style: string, ctx: RunContext): Promise<string> {
  const { stdout } = await runProcess(path, ['-S', style, '-f', 'html', '-a', '.highlight'], {
    env: ctx.env,
    signal: ctx.signal,
    timeoutMs: PROBE_TIMEOUT_MS,
    nice: BACKGROUND,
  });
  return `${scopeToHighlight(stdout)}\n`;
}

/**
 * Which pygmentize had the pinned version last time. Any pygmentize of that version makes the
 * same stylesheet, so it is asked first: on a machine where an earlier PATH entry is a slow
 * wrapper of another version (a pyenv shim costs half a second of CPU), that one is not run
 * at every build. It is still run, and must still answer with the pinned version.
 */
function lastUsedFile(ctx: RunContext, want: string): string {
  return join(ctx.cacheDir, 'pygments', `last-used-${want}.json`);
}

async function lastUsed(ctx: RunContext, want: string | undefined): Promise<string | null> {
  return want ? ((await readJsonFile<{ path: string }>(lastUsedFile(ctx, want)))?.path ?? null) : null;
}

async function rememberUsed(ctx: RunContext, want: string | undefined, path: string): Promise<void> {
  if (want) await writeJsonFile(lastUsedFile(ctx, want), { path });
}

/**
 * Every pygmentize on PATH, then the cache venv, until one has the wanted version; with a
 * pinned version, the one used last time (still on PATH or the venv) goes first.
 */
async function findExisting(
  ctx: RunContext,
  want: string | undefined,
  seen: Candidate[],
): Promise<Candidate | null> {
  const venvBin = join(venvDir(ctx, want), 'bin', 'pygmentize');
  const paths = await whichAll('pygmentize', ctx.env.PATH ?? '');
  if (await isExecutable(venvBin)) paths.push(venvBin);
  const last = await lastUsed(ctx, want);
  if (last && paths.includes(last)) paths.sort((a, b) => Number(b === last) - Number(a === last));
  for (const path of paths) {
    const candidate = await probe(path, ctx);
    seen.push(candidate);
    if (candidate.version && (!want || sameVersion(candidate.version, want))) return candidate;
    ctx.log.info(
      `not using ${path}: ${candidate.version ? `it is ${candidate.version}` : 'it does not run'}`,
    );
  }
  return null;
}

function unavailable(
  want: string | undefined,
  seen: Candidate[],
  why: string,
  details: string[],
): SitepipeError {
  const found = seen.map((c) => `${c.version ?? 'broken'} at ${c.path}`).join(', ') || 'none';
  return new SitepipeError(
    'PYGMENTS_UNAVAILABLE',
    `no pygmentize ${want ?? ''} found on PATH, and ${why}`.replace(/\s+/g, ' '),
    `install python3-pygments (apt) or set pygments.version to one on PATH (found: ${found})`,
    details,
  );
}

/** Creates ${cacheDir}/pygments/<version> with `python3 -m venv` and pip-installs Pygments into it. */
async function installVenv(ctx: RunContext, want: string | undefined, seen: Candidate[]): Promise<Candidate> {
  const dir = venvDir(ctx, want);
  const [python] = await whichAll('python3', ctx.env.PATH ?? '');
  if (!python) throw unavailable(want, seen, 'there is no python3 on PATH to install it with', []);
  const requirement = want ? `pygments==${want}` : 'pygments';
  ctx.log.info(`installing ${requirement} into ${dir}`);
  const opts = { env: ctx.env, signal: ctx.signal };
  try {
    await rm(dir, { recursive: true, force: true });
    await runProcess(python, ['-m', 'venv', dir], { ...opts, timeoutMs: VENV_TIMEOUT_MS });
    await runProcess(
      join(dir, 'bin', 'python'),
      ['-m', 'pip', 'install', '--disable-pip-version-check', requirement],
      {
        ...opts,
        timeoutMs: PIP_TIMEOUT_MS,
      },
    );
  } catch (e) {
    // A half-built venv would be probed (and fail) on every later run.
    await rm(dir, { recursive: true, force: true });
    ctx.signal.throwIfAborted();
    if (!isSitepipeError(e)) throw e;
    throw unavailable(want, seen, `installing ${requirement} failed: ${e.message}`, [...e.details]);
  }
  const installed = await probe(join(dir, 'bin', 'pygmentize'), ctx);
  if (!installed.version || (want && !sameVersion(installed.version, want))) {
    throw unavailable(want, seen, `the venv in ${dir} reports ${installed.version ?? 'no version'}`, []);
  }
  return installed;
}

/** Lines of `pygmentize -L styles` that name a style (`* monokai:`). */
async function listStyles(path: string, ctx: RunContext): Promise<string[]> {
  try {
    const { stdout } = await runProcess(path, ['-L', 'styles'], { env: ctx.env, signal: ctx.signal });
    return [...stdout.matchAll(/^\* ([\w-]+):/gm)].map((m) => m[1] ?? '').filter(Boolean);
  } catch {
    return [];
  }
}

/** The stylesheet of the pygmentize found; a failure here means it lacks the style. */
async function styleOf(found: Candidate, style: string, ctx: RunContext): Promise<string> {
  try {
    return await stylesheet(found.path, style, ctx);
  } catch (e) {
    ctx.signal.throwIfAborted();
    if (!isSitepipeError(e)) throw e;
    const styles = await listStyles(found.path, ctx);
    throw new SitepipeError(
      'PYGMENTS_STYLE_UNKNOWN',
      `Pygments at ${found.path} has no style "${style}"`,
      `set pygments.style to one of the styles \`${found.path} -L styles\` lists`,
      styles.length > 0 ? [`available: ${styles.join(', ')}`] : [...e.details],
    );
  }
}

/** Finds pygmentize at the pinned version and makes the site's stylesheet with it. */
export async function resolvePygments(ctx: RunContext): Promise<PygmentsInstall> {
  const { enabled, version: want, style, stylesheet: path } = ctx.config.pygments;
  if (!enabled) return { enabled: false, path: null, version: null, style, stylesheet: null, css: null };
  const seen: Candidate[] = [];
  const found = (await findExisting(ctx, want, seen)) ?? (await installVenv(ctx, want, seen));
  const css = await styleOf(found, style, ctx);
  await rememberUsed(ctx, want, found.path);
  ctx.log.info(`using Pygments ${found.version} (style ${style}): ${found.path}`);
  return { enabled: true, path: found.path, version: found.version, style, stylesheet: path, css };
}

/**
 * `-a .highlight` scopes only the token rules; Pygments still emits a few global element rules
 * (`pre { line-height: 125% }`, `td.linenos ...`) that would restyle every <pre> on the site.
 * Hugo's Chroma emits Pygments-compatible classes under `.highlight` when
 * markup.highlight.noClasses is false, so every selector is scoped to it.
 */
export function scopeToHighlight(css: string): string {
  return css.replace(/^(?=[a-z][^{]*\{)/gm, '.highlight ');
}

export const pygments = defineStep({
  name: 'pygments',
  needs: [],
  mutates: false,
  description:
    'find pygmentize at the pinned version (PATH, cache venv, or a new venv) and make the stylesheet',
  run: (ctx) => resolvePygments(ctx),
  summarize: (out) => (out.enabled ? `pygments ${out.version} (${out.style})` : 'disabled'),
});
