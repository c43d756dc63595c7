import { createHash } from 'node:crypto';

/** `*` matches within a name segment, `**` across `/`, as in GitHub's branch filters. */
function globToRegExp(glob: string): RegExp {
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
  return new RegExp(`^${source}$`);
}

export function branchMatcher(globs: readonly string[]): (branch: string) => boolean {
  const patterns = globs.map(globToRegExp);
  return (branch) => patterns.some((p) => p.test(branch));
}

/** A branch name as a directory name: readable, and distinct for distinct branches. */
export function branchDirName(branch: string): string {
  const readable = branch.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 80);
  return `${readable}-${createHash('sha256').update(branch).digest('hex').slice(0, 8)}`;
}
