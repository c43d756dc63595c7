import { SitepipeError } from '../pipeline/errors.js';
import { parseRepository, repositoryName } from '../pipeline/reference.js';
import { defineStep } from '../pipeline/step.js';

const DIRTY_SUFFIX = '-dirty';

/** The shape of an abbreviated commit: a branch tag like this could overwrite a commit's own tag. */
const COMMIT_SHAPED = /^[0-9a-f]{7,40}$/;

/**
 * Turns a branch name into a valid tag: anything outside [A-Za-z0-9_.-] becomes '-',
 * runs of '-' collapse, and a tag may not start with '.' or '-'.
 */
export function sanitizeBranch(branch: string, maxLength: number): string {
  return branch
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, maxLength)
    .replace(/[.-]+$/, '');
}

export interface TagInput {
  repository: string;
  commit: string;
  branch: string | null;
  dirty: boolean;
  commitLength: number;
  maxLength: number;
  branchTags: boolean;
  commitTags: boolean;
}

export function planTags(input: TagInput) {
  const repository = repositoryName(parseRepository(input.repository));
  const suffix = input.dirty ? DIRTY_SUFFIX : '';
  const commitTag = `${input.commit.slice(0, input.commitLength)}${suffix}`;
  let branchTag: string | null = null;
  if (input.branchTags && input.branch !== null) {
    const base = sanitizeBranch(input.branch, input.maxLength - suffix.length);
    if (base === '') {
      throw new SitepipeError(
        'BRANCH_TAG_EMPTY',
        `branch "${input.branch}" leaves nothing usable as an image tag`,
        'rename the branch to include letters or digits, or set tags.branch: false',
      );
    }
    if (COMMIT_SHAPED.test(base)) {
      throw new SitepipeError(
        'BRANCH_TAG_LOOKS_LIKE_COMMIT',
        `branch "${input.branch}" would be tagged ${base}, which looks like a commit tag: it could overwrite that commit's image, and pin would then roll out another commit`,
        'rename the branch (e.g. add a letter outside a-f), or set tags.branch: false',
      );
    }
    branchTag = `${base}${suffix}`;
  }
  const tags = [...(input.commitTags ? [commitTag] : []), ...(branchTag ? [branchTag] : [])];
  if (tags.length === 0) {
    throw new SitepipeError(
      'NO_TAGS',
      'no tag to push: commit tags are off and there is no branch',
      'set tags.commit: true, or run on a branch',
    );
  }
  return { commit: input.commit, repository, tags, commitTag, branchTag };
}

export const tag = defineStep({
  name: 'tag',
  needs: ['source'],
  mutates: false,
  description: 'name the image by commit and branch',
  async run(ctx, { source }) {
    const t = ctx.config.tags;
    return planTags({
      repository: ctx.config.image.repository,
      commit: source.commit,
      branch: source.branch,
      dirty: source.dirty,
      commitLength: t.commitLength,
      maxLength: t.maxLength,
      branchTags: t.branch,
      commitTags: t.commit,
    });
  },
  summarize: (t) => t.tags.map((x) => `${t.repository}:${x}`).join(', '),
});
