import { createHash } from 'node:crypto';
import { SitepipeError } from './errors.js';
import type { Preview } from './kube/previews.js';

/** `*` matches within a name segment, `**` across `/`, as in GitHub's branch filters. */
function globSource(glob: string): string {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else source += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return source;
}

export function branchMatcher(globs: readonly string[]): (branch: string) => boolean {
  const patterns = globs.map((g) => new RegExp(`^${globSource(g)}$`));
  return (branch) => patterns.some((p) => p.test(branch));
}

/**
 * The globs as one regular expression in the syntax JavaScript and RE2 share (Cloud Build
 * triggers match branch names with RE2), e.g. `^(?:main|release/[^/]*)$`.
 */
export function branchesRegex(globs: readonly string[]): string {
  const sources = globs.map(globSource);
  return sources.length === 1 ? `^${sources[0]}$` : `^(?:${sources.join('|')})$`;
}

/** A branch name as a directory name: readable, and distinct for distinct branches. */
export function branchDirName(branch: string): string {
  const readable = branch.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 80);
  return `${readable}-${createHash('sha256').update(branch).digest('hex').slice(0, 8)}`;
}

/** Production branches by default, as the tools people deploy static sites with have them. */
export const DEFAULT_PRODUCTION_BRANCHES = ['main', 'master'];

/** Whether a run on `branch` may touch production. No branch (a detached checkout) never may. */
export function isProductionBranch(globs: readonly string[], branch: string | null): boolean {
  return branch !== null && branchMatcher(globs)(branch);
}

const SLUG_MAX = 63;
const HASH_LENGTH = 6;

/**
 * A branch as one DNS label that also names Kubernetes objects (RFC 1035: a letter first, at
 * most 63 characters). A branch that already is such a label is its own slug; any other gets a
 * hash of the full name, so `feature/x` and `feature-x` (or two long names with one prefix)
 * never share a preview.
 */
export function previewSlug(branch: string): string {
  if (/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(branch) && branch.length <= SLUG_MAX) return branch;
  let readable = branch
    .normalize('NFKD')
    .replace(/\p{M}/gu, '') // Ü -> U
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (!/^[a-z]/.test(readable)) readable = `b-${readable}`;
  readable = readable.slice(0, SLUG_MAX - HASH_LENGTH - 1).replace(/-+$/, '');
  const hash = createHash('sha256').update(branch).digest('hex').slice(0, HASH_LENGTH);
  return `${readable}-${hash}`;
}

/**
 * The preview of `branch` (its full name, or its slug) among `previews`; PREVIEW_NOT_FOUND
 * naming where it looked. Both targets find previews this way.
 */
export function pickPreview(
  previews: readonly Preview[],
  branch: string,
  slug: string,
  at: { site: string; where: string },
): Preview {
  const found =
    previews.find((p) => p.branch === branch) ?? previews.find((p) => p.name === branch || p.name === slug);
  if (found) return found;
  throw new SitepipeError(
    'PREVIEW_NOT_FOUND',
    `${at.site} has no preview of ${branch} ${at.where}`,
    previews.length
      ? `\`sitepipe previews\` lists them: ${previews
          .map((p) => p.branch)
          .slice(0, 5)
          .join(', ')}`
      : 'there are no previews; a run on a branch outside deploy.production.branches makes one',
  );
}
