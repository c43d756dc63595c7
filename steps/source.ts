import { dirname } from 'node:path';
import { changedPaths, head, repoRoot, sourceUrl } from '../pipeline/clients/git.js';
import { SitepipeError } from '../pipeline/errors.js';
import { defineStep } from '../pipeline/step.js';

/** How many changed paths a dirty-tree error lists. */
const LIST_LIMIT = 10;

/** Reads the commit being shipped; refuses a site that differs from it unless --allow-dirty. */
export const source = defineStep({
  name: 'source',
  needs: [],
  mutates: false,
  description: 'read the commit, branch and work-tree state from git',
  async run(ctx) {
    const root = await repoRoot(ctx.siteDir, ctx.signal);
    const info = await head(root, ctx.signal);
    const branch = info.branch ?? ctx.env.BRANCH_NAME ?? null;
    // What goes into the image: the site and its config. Other changes in the repo do not matter.
    const changed = await changedPaths(root, [ctx.siteDir, ctx.configPath], [ctx.stateDir], ctx.signal);
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
      sourceUrl: await sourceUrl(dirname(ctx.configPath), ctx.signal),
    };
  },
  summarize: (s) => `${s.shortSha} on ${s.branch ?? '(detached)'}${s.dirty ? ' (dirty)' : ''}`,
});
