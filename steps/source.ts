import { dirname } from 'node:path';
import { changedPaths, head, repoRoot, sourceUrl } from '../pipeline/clients/git.js';
import { SitepipeError } from '../pipeline/errors.js';
import type { SourceInfo } from '../pipeline/records.js';
import { defineStep, type RunContext } from '../pipeline/step.js';

/** How many changed paths a dirty-tree error lists. */
const LIST_LIMIT = 10;

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
    // Every git question at once, asked from the site dir (git finds the repository itself);
    // whether there is a repository at all decides first.
    const answers = Promise.all([
      head(ctx.siteDir, ctx.signal),
      // What goes into the image: the site and its config. Other changes in the repo do not matter.
      changedPaths(ctx.siteDir, [ctx.siteDir, ctx.configPath], [ctx.stateDir], ctx.signal),
      sourceUrl(dirname(ctx.configPath), ctx.signal),
    ]);
    answers.catch(() => undefined);
    try {
      await repoRoot(ctx.siteDir, ctx.signal);
    } catch (e) {
      const fromEnv = sourceFromBuildEnv(ctx);
      if (fromEnv) return fromEnv;
      throw e;
    }
    const [info, changed, url] = await answers;
    const branch = info.branch ?? ctx.env.BRANCH_NAME ?? null;
    if (changed.length > 0 && !ctx.allowDirty) {
      const more = changed.length > LIST_LIMIT ? [`… and ${changed.length - LIST_LIMIT} more`] : [];
      throw new SitepipeError(
        'DIRTY_WORKTREE',
        `the site has ${changed.length} uncommitted change(s), so the image would not match commit ${info.commit.slice(0, 12)}`,
        'commit or stash them, or pass --allow-dirty (the tags then end in -dirty)',
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
