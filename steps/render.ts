import type { Stats } from 'node:fs';
import { lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { siteBase, siteBaseOptions } from '../pipeline/base-path.js';
import { trackedFiles } from '../pipeline/clients/git.js';
import { mapLimit } from '../pipeline/concurrency.js';
import { isSitepipeError, SitepipeError } from '../pipeline/errors.js';
import { withoutSecrets } from '../pipeline/hugo-env.js';
import { isAsset } from '../pipeline/oci/site-layers.js';
import { filesUnder } from '../pipeline/paths.js';
import { runProcess } from '../pipeline/process.js';
import type { PygmentsInstall, SourceInfo } from '../pipeline/records.js';
import { requireSitemap } from '../pipeline/site-checks.js';
import { defineStep, type RunContext } from '../pipeline/step.js';

export interface HugoBuildOptions {
  /** Hugo's module and resource cache; Hugo's default ($TMPDIR/hugo_cache) when omitted. */
  cacheDir?: string;
  /** Overrides the site's own baseURL. */
  baseURL?: string;
  /** Hugo build environment; selects config/<environment>/ overrides. */
  environment?: string;
  /** Hugo appends its WARN/ERROR log here (it prints them on stdout, not stderr). */
  logFile?: string;
  /** The site's own flags (hugo.args), last: sitepipe's config refuses those that clash with the above. */
  extraArgs?: readonly string[];
}

/**
 * Hugo's command line for one build, shared by the local render and the Docker path so
 * both build the site the same way. Pass absolute paths: Hugo resolves a relative
 * --destination against --source, not the working directory.
 */
export function hugoBuildArgs(siteDir: string, outDir: string, opts: HugoBuildOptions = {}): string[] {
  const args = ['--source', siteDir, '--destination', outDir, '--cleanDestinationDir'];
  if (opts.cacheDir !== undefined) args.push('--cacheDir', opts.cacheDir);
  args.push('--environment', opts.environment ?? 'production');
  // Without this Hugo leaves .hugo_build.lock in the site, which the next run sees as an uncommitted change.
  args.push('--noBuildLock');
  if (opts.logFile !== undefined) args.push('--logFile', opts.logFile);
  if (opts.baseURL !== undefined) args.push('--baseURL', opts.baseURL);
  args.push(...(opts.extraArgs ?? []));
  return args;
}

/** Hugo's log prefix: level, then a timestamp that only adds noise to an error report. */
const LOG_LINE = /^(ERROR|WARN)\s+\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\s+/;

/**
 * Hugo's own error lines, once each, in the order printed: the final "Error: ..." from
 * stderr and the logged "ERROR ..." lines (timestamps dropped), skipping logged lines the
 * final error already repeats (a template parse error is logged once per page kind).
 */
export function hugoErrorLines(stderr: readonly string[], log: readonly string[] = []): string[] {
  const finals = stderr.map((l) => l.trim()).filter((l) => l.startsWith('Error:'));
  const logged = log
    .map((l) => l.trim())
    .filter((l) => /^ERROR\b/.test(l))
    .map((l) => l.replace(LOG_LINE, 'ERROR '))
    .filter((l) => !finals.some((f) => f.includes(l.slice('ERROR '.length))));
  return [...new Set([...logged, ...finals])];
}

/** Hugo's WARN lines with the timestamp dropped. */
export function hugoWarnings(output: string): string[] {
  const warnings = output
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^WARN\b/.test(l))
    .map((l) => l.replace(LOG_LINE, ''));
  return [...new Set(warnings)];
}

/** Files Hugo accepts as site config, besides a config/ directory. */
export const HUGO_CONFIG_FILES = ['hugo', 'config'].flatMap((base) =>
  ['toml', 'yaml', 'yml', 'json'].map((ext) => `${base}.${ext}`),
);

async function statOrNull(path: string): Promise<Stats | null> {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

/** Fails early, with a hint, on the two mistakes Hugo itself reports obscurely. */
async function checkSiteDir(ctx: RunContext): Promise<void> {
  const dir = ctx.siteDir;
  const info = await statOrNull(dir);
  if (!info?.isDirectory()) {
    throw new SitepipeError(
      'SITE_DIR_MISSING',
      info ? `the site path ${dir} is not a directory` : `the site directory ${dir} does not exist`,
      `set site.dir in ${ctx.configPath} to the Hugo site, relative to that file`,
    );
  }
  for (const name of HUGO_CONFIG_FILES) {
    if ((await statOrNull(join(dir, name)))?.isFile()) return;
  }
  if ((await statOrNull(join(dir, 'config')))?.isDirectory()) return;
  throw new SitepipeError(
    'SITE_NOT_HUGO',
    `${dir} is not a Hugo site: it has no hugo.toml, config.toml (or .yaml/.json) and no config/ directory`,
    `point site.dir in ${ctx.configPath} at the directory that holds the Hugo config`,
  );
}

/** How many of Hugo's error lines the message shows; the rest go to details. */
const MESSAGE_ERRORS = 8;

async function readLines(path: string): Promise<string[]> {
  try {
    return (await readFile(path, 'utf8')).split('\n');
  } catch {
    return [];
  }
}

/** Turns runProcess's generic failure into one that leads with Hugo's own words. */
async function hugoFailure(e: SitepipeError, siteDir: string, logFile: string): Promise<SitepipeError> {
  const errors = hugoErrorLines(e.details, await readLines(logFile));
  const shown = errors.slice(0, MESSAGE_ERRORS);
  const rest = [
    ...errors.slice(MESSAGE_ERRORS),
    ...e.details.filter((l) => !l.trim().startsWith('Error:')),
    e.message,
    `full log: ${logFile}`,
  ];
  return new SitepipeError(
    'HUGO_BUILD_FAILED',
    shown.length > 0 ? `hugo could not build the site:\n${shown.join('\n')}` : e.message,
    `fix the file named in the error; reproduce with \`hugo --source ${siteDir}\``,
    rest,
    { cause: e },
  );
}

/**
 * Hugo's resourceDir (processed images, compiled SCSS). Hugo keeps it in the site (resources/),
 * where the next run sees it as an uncommitted change; it has no flag for it, but reads
 * HUGO_RESOURCEDIR. It goes in the state dir, being the site's own (in a cache shared by sites
 * their files would mix, and two builds could write one file at once), unless HUGO_RESOURCEDIR
 * is set (the generated cloudbuild.yaml keeps it with the cache that travels between builds).
 */
export function hugoResourceDir(ctx: RunContext): string {
  return ctx.env.HUGO_RESOURCEDIR || join(ctx.stateDir, 'hugo-resources');
}

/**
 * Some sites commit resources/ so that a Hugo without SCSS support can build them: those files
 * are copied into the resource dir, over what an earlier render left, so Hugo finds them as it
 * did in the site and every clone starts from the same ones. Only committed files: anything else
 * there is a local Hugo's leftover, not the commit (without git, the checkout is the commit).
 */
async function seedResources(ctx: RunContext, resourceDir: string): Promise<void> {
  const committed = join(ctx.siteDir, 'resources');
  if (!(await statOrNull(committed))?.isDirectory()) return;
  const files = await trackedFiles(committed, ctx.signal).catch(() => filesUnder(committed));
  await mapLimit(files, 8, async (rel) => {
    const target = join(resourceDir, rel);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(join(committed, rel), target).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e; // deleted in the work tree: the source step says so
    });
  });
}

async function runHugo(ctx: RunContext, hugoPath: string, outDir: string): Promise<void> {
  // Hugo appends to its log file; start each render with an empty one.
  const logFile = join(ctx.stateDir, 'hugo.log');
  const resourceDir = hugoResourceDir(ctx);
  await Promise.all([rm(logFile, { force: true }), seedResources(ctx, resourceDir)]);
  const { hugo } = ctx.config;
  const args = hugoBuildArgs(ctx.siteDir, outDir, {
    cacheDir: join(ctx.cacheDir, 'hugo-cache'),
    baseURL: ctx.config.site.baseURL,
    environment: hugo.environment,
    logFile,
    extraArgs: hugo.args,
  });
  try {
    const { stdout, stderr } = await runProcess(hugoPath, args, {
      // libsass names imported files (a theme's partials) in source maps relative to the working
      // dir: from the site, those names hold no checkout path.
      cwd: ctx.siteDir,
      env: {
        ...withoutSecrets(ctx.config, process.env, ctx.env),
        ...hugo.env,
        HUGO_RESOURCEDIR: resourceDir,
      },
      signal: ctx.signal,
      code: 'HUGO_BUILD_FAILED',
    });
    for (const warning of hugoWarnings(`${stdout}\n${stderr}`)) ctx.log.warn(`hugo: ${warning}`);
  } catch (e) {
    // A cancelled run is an interruption, not a broken site.
    ctx.signal.throwIfAborted();
    throw isSitepipeError(e) && e.code === 'HUGO_BUILD_FAILED'
      ? await hugoFailure(e, ctx.siteDir, logFile)
      : e;
  }
}

/** Where the Docker path renders the site (Dockerfile.template); a local render's output names it too. */
export const BUILD_SITE_DIR = '/src';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A base64 source map inlined into a script or stylesheet. */
const INLINE_MAP = /(sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,)([A-Za-z0-9+/=]+)/g;

/**
 * `text` (bytes as latin1, so any encoding passes through unchanged) with the site dir `dir`
 * replaced by BUILD_SITE_DIR where Hugo itself writes its working dir: esbuild's module names
 * ("ns-hugo:<dir>/…", in js.Build comments and maps) and, in a source map, path strings (libsass
 * sets sourceRoot to the working dir). Only those: a blind replace would also rewrite a page's
 * own links when the checkout path is a URL path too (a site at /app with an /app/ page).
 */
export function hideSiteDir(text: string, dir: string, isMap: boolean): string {
  const d = escapeRegExp(dir);
  let out = text.replace(new RegExp(`ns-hugo:${d}(?=/)`, 'g'), `ns-hugo:${BUILD_SITE_DIR}`);
  if (isMap) out = out.replace(new RegExp(`(?<!\\\\)"${d}(?=["/])`, 'g'), `"${BUILD_SITE_DIR}`);
  return out.replace(INLINE_MAP, (_, lead: string, data: string) => {
    const map = Buffer.from(data, 'base64').toString('latin1');
    return lead + Buffer.from(hideSiteDir(map, dir, true), 'latin1').toString('base64');
  });
}

/**
 * Makes the render's text outputs independent of where the site is checked out (hideSiteDir),
 * under the path Hugo was given and the real one. Media is skipped: Hugo copies it unchanged.
 */
async function hideSiteDirs(outDir: string, siteDir: string): Promise<void> {
  const dirs = [...new Set([siteDir, await realpath(siteDir)])]
    .filter((d) => d !== '/' && d !== BUILD_SITE_DIR)
    .sort((a, b) => b.length - a.length)
    .map((d) => Buffer.from(d).toString('latin1'));
  if (dirs.length === 0) return;
  const markers = [...dirs, 'sourceMappingURL=data:'].map((m) => Buffer.from(m, 'latin1'));
  for (const rel of filesUnder(outDir)) {
    if (isAsset(rel)) continue;
    const path = join(outDir, rel);
    const bytes = readFileSync(path);
    if (!markers.some((m) => bytes.includes(m))) continue;
    const before = bytes.toString('latin1');
    const after = dirs.reduce((text, dir) => hideSiteDir(text, dir, rel.endsWith('.map')), before);
    if (after !== before) writeFileSync(path, Buffer.from(after, 'latin1'));
  }
}

/** Where the stylesheet goes inside the output; refuses paths that would escape it. */
function stylesheetPath(outDir: string, stylesheet: string): string {
  const path = resolve(outDir, stylesheet);
  const rel = relative(outDir, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) {
    throw new SitepipeError(
      'STYLESHEET_OUTSIDE_SITE',
      `pygments.stylesheet ${stylesheet} is outside the rendered site`,
      'use a path inside the site output, e.g. css/syntax.css',
    );
  }
  return path;
}

async function writeStylesheet(ctx: RunContext, install: PygmentsInstall, outDir: string): Promise<void> {
  if (!install.enabled || install.css === null) return;
  const target = stylesheetPath(outDir, install.stylesheet ?? ctx.config.pygments.stylesheet);
  if (await statOrNull(target)) {
    ctx.log.warn(
      `the site already has ${relative(outDir, target)}; replacing it with the Pygments stylesheet`,
    );
  }
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, install.css);
}

/** Regular files and their total size under dir (Hugo writes no symlinks). */
export function countFiles(dir: string): { files: number; bytes: number } {
  const files = filesUnder(dir);
  return { files: files.length, bytes: files.reduce((n, f) => n + lstatSync(join(dir, f)).size, 0) };
}

/**
 * Puts a finished render in place; `public` is never a half-written tree. The previous tree
 * is removed once the run is over: unlinking thousands of files contends for the disk, and
 * done here, or while Hugo runs, it slows the steps on the way to the push.
 */
async function swapIn(ctx: RunContext, tmpDir: string, outDir: string): Promise<void> {
  // removeLeftovers has removed any earlier public.old by now.
  const oldDir = `${outDir}.old`;
  if (await statOrNull(outDir)) await rename(outDir, oldDir);
  await rename(tmpDir, outDir);
  ctx.afterRun(() => rm(oldDir, { recursive: true, force: true }));
}

/** Earlier renders' trees that a killed run left behind. */
async function removeLeftovers(stateDir: string, outDir: string, keep: string): Promise<void> {
  const base = basename(outDir);
  const names = (await readdir(stateDir)).filter((n) => n.startsWith(`${base}.tmp`) || n === `${base}.old`);
  await Promise.all(
    names
      .map((n) => join(stateDir, n))
      .filter((p) => p !== keep)
      .map((p) => rm(p, { recursive: true, force: true })),
  );
}

export function formatRender(r: { files: number; bytes: number; durationMs: number }): string {
  return `${r.files} files, ${(r.bytes / 1_000_000).toFixed(2)} MB in ${(r.durationMs / 1000).toFixed(1)} s`;
}

/** Renders the site with the pinned Hugo into <state>/public, plus the Pygments stylesheet. */
export const render = defineStep({
  name: 'render',
  needs: ['hugo'],
  // Hugo starts as soon as it is found; the commit is recorded and the stylesheet written once
  // git and Pygments have answered. A dirty tree still fails the run (source fails, render stops).
  awaits: ['source', 'pygments'],
  mutates: false,
  description: 'render the site with Hugo and write the Pygments stylesheet',
  async run(ctx, inputs, pending) {
    const started = performance.now();
    await checkSiteDir(ctx);
    const outDir = join(ctx.stateDir, 'public');
    // A fresh directory per render: nothing from an earlier render or an interrupted one
    // survives. Hugo gets a new name for it, so what a killed run left goes while it runs.
    const tmpDir = `${outDir}.tmp-${Date.now().toString(36)}`;
    await mkdir(ctx.stateDir, { recursive: true });
    const leftovers = removeLeftovers(ctx.stateDir, outDir, tmpDir);
    const base = siteBase({
      ...siteBaseOptions(ctx.config),
      hugoPath: inputs.hugo.path,
      siteDir: ctx.siteDir,
      signal: ctx.signal,
    });
    base.catch(() => undefined);
    let source: SourceInfo;
    try {
      await runHugo(ctx, inputs.hugo.path, tmpDir);
      await requireSitemap(ctx.config, tmpDir);
      await hideSiteDirs(tmpDir, ctx.siteDir);
      // Nothing is swapped in unless git accepted the tree.
      [source] = await Promise.all([pending.source, leftovers, base]);
      await writeStylesheet(ctx, await pending.pygments, tmpDir);
    } catch (e) {
      await Promise.allSettled([leftovers, rm(tmpDir, { recursive: true, force: true })]);
      throw e;
    }
    await swapIn(ctx, tmpDir, outDir);
    const { files, bytes } = countFiles(outDir);
    return {
      outputDir: outDir,
      files,
      bytes,
      durationMs: Math.round(performance.now() - started),
      hugoVersion: inputs.hugo.version,
      commit: source.commit,
      baseURL: (await base).url,
      basePath: (await base).path,
    };
  },
  plan: (ctx, inputs) =>
    `render ${ctx.siteDir} with hugo ${inputs.hugo?.version ?? ctx.config.hugo.version} into ${join(ctx.stateDir, 'public')}`,
  summarize: formatRender,
});
