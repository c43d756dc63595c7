import { relative } from 'node:path';
import { SitepipeError } from '../errors.js';
import { runProcess } from '../process.js';

const GIT_TIMEOUT_MS = 30_000;

async function git(cwd: string, args: string[], signal?: AbortSignal): Promise<string> {
  const { stdout } = await runProcess('git', args, {
    cwd,
    signal,
    timeoutMs: GIT_TIMEOUT_MS,
    code: 'GIT_FAILED',
    hint: 'check that the site is inside a git work tree with at least one commit',
  });
  return stdout.trim();
}

export async function repoRoot(dir: string, signal?: AbortSignal): Promise<string> {
  try {
    return await git(dir, ['rev-parse', '--show-toplevel'], signal);
  } catch (e) {
    throw new SitepipeError(
      'NOT_A_GIT_REPO',
      `${dir} is not inside a git work tree`,
      'sitepipe tags images by commit: run it on a site committed to git (git init && git commit)',
      [],
      { cause: e },
    );
  }
}

export interface HeadInfo {
  commit: string;
  /** null when HEAD is detached. */
  branch: string | null;
  commitTime: Date;
}

export async function head(dir: string, signal?: AbortSignal): Promise<HeadInfo> {
  const [line, ref] = await Promise.all([
    git(dir, ['log', '-1', '--format=%H %ct'], signal).catch((e: unknown) => {
      throw new SitepipeError('NO_COMMITS', `${dir} has no commits yet`, 'commit the site first', [], {
        cause: e,
      });
    }),
    git(dir, ['symbolic-ref', '--quiet', '--short', 'HEAD'], signal).catch(() => ''),
  ]);
  const [commit = '', seconds = '0'] = line.split(' ');
  return { commit, branch: ref === '' ? null : ref, commitTime: new Date(Number(seconds) * 1000) };
}

/**
 * Paths under `paths` that differ from HEAD (modified, staged or untracked, not ignored),
 * leaving out `exclude` (sitepipe's own state dir). `cwd` is any directory in the work tree
 * (pathspecs are relative to it); the paths printed are relative to the repository's top.
 */
export async function changedPaths(
  cwd: string,
  paths: readonly string[],
  exclude: readonly string[],
  signal?: AbortSignal,
): Promise<string[]> {
  const spec = [
    ...paths.map((p) => relative(cwd, p) || '.'),
    ...exclude
      .map((p) => relative(cwd, p))
      .filter((rel) => rel !== '' && !rel.startsWith('..'))
      .map((rel) => `:(exclude)${rel}`),
  ];
  const out = await git(cwd, ['status', '--porcelain', '--untracked-files=all', '--', ...spec], signal);
  return out === '' ? [] : out.split('\n').map((l) => l.slice(3));
}

/** The origin URL with any user:password@ removed, or null. */
export async function sourceUrl(root: string, signal?: AbortSignal): Promise<string | null> {
  const url = await git(root, ['config', '--get', 'remote.origin.url'], signal).catch(() => '');
  return url === '' ? null : stripCredentials(url);
}

export function stripCredentials(url: string): string {
  return url.replace(/^(\w+:\/\/)[^@/]+@/, '$1');
}

/**
 * When each file under `dir` last changed in history: path (relative to the repo root)
 * -> commit time. One `git log` over the history; the newest commit naming a path wins.
 */
export async function lastChangeTimes(
  root: string,
  dir: string,
  signal?: AbortSignal,
): Promise<Map<string, Date>> {
  const out = await git(
    root,
    ['log', '--format=%x00%ct', '--name-only', '--no-renames', '--', relative(root, dir) || '.'],
    signal,
  );
  const times = new Map<string, Date>();
  for (const block of out.split('\0')) {
    const [seconds, ...paths] = block.split('\n').filter(Boolean);
    if (!seconds) continue;
    const when = new Date(Number(seconds) * 1000);
    for (const p of paths) if (!times.has(p)) times.set(p, when);
  }
  return times;
}
