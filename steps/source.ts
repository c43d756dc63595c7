import { readdir, readlink, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { changedPaths, head, repoRoot, sourceUrl, type WorktreeChange } from '../pipeline/clients/git.js';
import { SitepipeError } from '../pipeline/errors.js';
import type { SourceInfo } from '../pipeline/records.js';
import { defineStep, type RunContext } from '../pipeline/step.js';
import { HUGO_CONFIG_FILES } from './render.js';

/** How many changed paths (or links) an error lists. */
const LIST_LIMIT = 10;

/** What Hugo reads from a site or theme directory: these dirs and its config (module mounts aside). */
const HUGO_INPUTS = [
  ...['archetypes', 'assets', 'config', 'content', 'data', 'i18n', 'layouts', 'static', '_vendor'],
  ...HUGO_CONFIG_FILES,
  'theme.toml',
];

/** Site-relative paths Hugo reads: the site's inputs and each theme's (themes/<name>/…). */
async function hugoInputs(siteDir: string): Promise<string[]> {
  const themes = await readdir(join(siteDir, 'themes')).catch(() => []);
  return ['', ...themes.map((t) => `themes/${t}/`)].flatMap((base) => HUGO_INPUTS.map((n) => base + n));
}

const within = (rel: string, roots: readonly string[]) =>
  roots.some((r) => rel === r || rel.startsWith(`${r}/`));

/** Whether `rel` (a directory may end in "/") holds something Hugo reads: it is in a root, or above one. */
function holdsInput(rel: string, roots: readonly string[]): boolean {
  const path = rel.replace(/\/$/, '');
  return within(path, roots) || roots.some((r) => r.startsWith(`${path}/`));
}

/** Where a link leads: its final target, or for a dangling link the path it names. */
async function linkTarget(path: string): Promise<string> {
  return realpath(path).catch(async () => resolve(dirname(path), await readlink(path)));
}

/**
 * Walks what Hugo reads for symbolic links. Hugo copies a linked file's bytes and follows
 * linked content dirs, so a link out of the site would ship this machine's files, whether the
 * link is committed or not: refused. A link to elsewhere in the site makes its target
 * something Hugo reads; the roots returned (site-relative) include such targets.
 */
async function checkLinks(siteDir: string): Promise<string[]> {
  const site = await realpath(siteDir);
  const roots = await hugoInputs(site);
  const outside: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(site, dir), { withFileTypes: true })) {
      const rel = dir ? `${dir}/${entry.name}` : entry.name;
      if (!holdsInput(rel, roots)) continue;
      if (entry.isDirectory()) await visit(rel);
      if (!entry.isSymbolicLink()) continue;
      const target = await linkTarget(join(site, rel));
      const inSite = relative(site, target);
      const leaves = inSite === '..' || inSite.startsWith('../') || isAbsolute(inSite);
      if (leaves) outside.push(`${rel} -> ${target}`);
      else if (inSite !== '' && !within(inSite, roots)) {
        roots.push(inSite);
        if ((await stat(target).catch(() => null))?.isDirectory()) await visit(inSite);
      }
    }
  };
  await visit('');
  const [first] = outside;
  if (first) {
    throw new SitepipeError(
      'SYMLINK_OUTSIDE_SITE',
      `${first}${outside.length > 1 ? ` (and ${outside.length - 1} more)` : ''} is a symbolic link out of the site ${site}: Hugo would ship that file from this machine, not from the commit`,
      'replace the link with a copy of the file, committed in the site, or point it at a path inside the site',
      outside.slice(0, LIST_LIMIT),
    );
  }
  return roots;
}

function describe(change: WorktreeChange): string {
  if (change.status === '!!') return `${change.path} (ignored)`;
  if (change.from === undefined) return change.path;
  return `${change.path} (${change.status.includes('C') ? 'copied' : 'renamed'} from ${change.from})`;
}

/**
 * Cloud Build may check a commit out without its .git directory; its steps then get the
 * commit from COMMIT_SHA (and the branch from BRANCH_NAME), which the generated cloudbuild.yaml
 * passes to this step. The commit time is SOURCE_DATE_EPOCH when set, else now (with a
 * warning: the image's created label then differs from run to run). Null when there is no
 * such commit in the environment.
 */
function sourceFromBuildEnv(ctx: RunContext): SourceInfo | null {
  const commit = ctx.env.COMMIT_SHA ?? '';
  if (!/^[0-9a-f]{40}$/.test(commit)) return null;
  const epoch = ctx.env.SOURCE_DATE_EPOCH;
  const commitTime = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000) : new Date();
  ctx.log.warn(
    `${ctx.siteDir} is not in a git work tree; using COMMIT_SHA ${commit.slice(0, 12)} from the build`,
  );
  if (!epoch)
    ctx.log.warn('no SOURCE_DATE_EPOCH: the image is labelled with the build time, not the commit time');
  return {
    commit,
    shortSha: commit.slice(0, ctx.config.tags.commitLength),
    branch: ctx.env.BRANCH_NAME || null,
    commitTime: commitTime.toISOString(),
    dirty: false,
    sourceUrl: null,
  };
}

/** Reads the commit being shipped; refuses a site that differs from it unless --allow-dirty. */
export const source = defineStep({
  name: 'source',
  needs: [],
  mutates: false,
  description: 'read the commit, branch and work-tree state from git',
  async run(ctx) {
    const links = checkLinks(ctx.siteDir);
    links.catch(() => undefined);
    // sitepipe's own state and outputs, which may sit in the site, are not the site.
    const here = dirname(ctx.configPath);
    const { ociLayout, dockerArchive } = ctx.config.image;
    const outputs = [ociLayout, dockerArchive].flatMap((p) => (p ? [resolve(here, p)] : []));
    // Every git question at once, asked from the site dir (git finds the repository itself);
    // whether there is a repository at all decides first.
    const answers = Promise.all([
      head(ctx.siteDir, ctx.signal),
      // What goes into the image: the site and its config. Other changes in the repo do not matter.
      changedPaths(ctx.siteDir, [ctx.siteDir, ctx.configPath], [ctx.stateDir, ...outputs], ctx.signal),
      sourceUrl(here, ctx.signal),
    ]);
    answers.catch(() => undefined);
    try {
      await repoRoot(ctx.siteDir, ctx.signal);
    } catch (e) {
      await links;
      const fromEnv = sourceFromBuildEnv(ctx);
      if (fromEnv) return fromEnv;
      throw e;
    }
    const [[info, changes, url], roots] = await Promise.all([answers, links]);
    // An ignored file is no change to git, but Hugo ships it all the same where it reads (static/,
    // content/, …). Ignored things it does not publish (node_modules/ for PostCSS) do not count.
    const relevant = changes.filter((c) => c.status !== '!!' || holdsInput(c.path, roots));
    const changed = relevant.map(describe);
    const branch = info.branch ?? ctx.env.BRANCH_NAME ?? null;
    if (changed.length > 0 && !ctx.allowDirty) {
      const more = changed.length > LIST_LIMIT ? [`… and ${changed.length - LIST_LIMIT} more`] : [];
      const ignored = relevant.some((c) => c.status === '!!')
        ? 'Hugo ships ignored files where it reads too: commit or delete them; '
        : '';
      throw new SitepipeError(
        'DIRTY_WORKTREE',
        `the site has ${changed.length} uncommitted change(s), so the image would not match commit ${info.commit.slice(0, 12)}`,
        `${ignored}commit or stash them, or pass --allow-dirty (the tags then end in -dirty)`,
        [...changed.slice(0, LIST_LIMIT), ...more],
      );
    }
    if (changed.length > 0)
      ctx.log.warn(`building with ${changed.length} uncommitted change(s) (--allow-dirty)`);
    return {
      commit: info.commit,
      shortSha: info.commit.slice(0, ctx.config.tags.commitLength),
      branch,
      commitTime: info.commitTime.toISOString(),
      dirty: changed.length > 0,
      sourceUrl: url,
    };
  },
  summarize: (s) => `${s.shortSha} on ${s.branch ?? '(detached)'}${s.dirty ? ' (dirty)' : ''}`,
});
