import { randomUUID } from 'node:crypto';
import { cp, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { stripCredentials } from '../clients/git.js';
import { runProcess } from '../process.js';
import type { BuiltInSubstitution } from './substitute.js';

const GIT_TIMEOUT_MS = 30_000;

async function git(cwd: string, args: string[]): Promise<string | null> {
  try {
    return (await runProcess('git', args, { cwd, timeoutMs: GIT_TIMEOUT_MS })).stdout.trim();
  } catch {
    return null;
  }
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** owner/name from a remote URL (https://host/owner/name.git, git@host:owner/name.git). */
export function repoFullName(url: string): string | null {
  const m = /[/:]([^/:]+)\/([^/]+?)(?:\.git)?\/?$/.exec(stripCredentials(url));
  return m ? `${m[1]}/${m[2]}` : null;
}

export interface BuiltInOptions {
  projectId: string;
  buildId?: string;
  location?: string;
  projectNumber?: string;
  triggerName?: string;
  /** The config file, for TRIGGER_BUILD_CONFIG_PATH (relative to the source). */
  configFile?: string;
}

/**
 * Built-in substitutions for a local build of `sourceDir`, as Cloud Build sets them for a
 * triggered build of that commit: commit, branch or tag from git, repository from the origin
 * remote (else the directory name). A source that is not a git work tree has only the
 * values that do not come from source control.
 */
export async function localBuiltIns(
  sourceDir: string,
  opts: BuiltInOptions,
): Promise<Partial<Record<BuiltInSubstitution, string>>> {
  const values: Partial<Record<BuiltInSubstitution, string>> = {
    PROJECT_ID: opts.projectId,
    BUILD_ID: opts.buildId ?? randomUUID(),
    LOCATION: opts.location ?? 'global',
    PROJECT_NUMBER: opts.projectNumber ?? '',
    TRIGGER_NAME: opts.triggerName ?? '',
  };
  if (opts.configFile) {
    const rel = relative(sourceDir, opts.configFile);
    if (!rel.startsWith('..')) values.TRIGGER_BUILD_CONFIG_PATH = rel.split(sep).join('/');
  }
  const commit = await git(sourceDir, ['rev-parse', '--verify', '--quiet', 'HEAD']);
  if (!commit) return values;
  const branch = (await git(sourceDir, ['symbolic-ref', '--quiet', '--short', 'HEAD'])) ?? '';
  const tag = (await git(sourceDir, ['describe', '--tags', '--exact-match', 'HEAD'])) ?? '';
  const origin = (await git(sourceDir, ['config', '--get', 'remote.origin.url'])) ?? '';
  const full = (origin && repoFullName(origin)) || basename(sourceDir);
  Object.assign(values, {
    COMMIT_SHA: commit,
    REVISION_ID: commit,
    SHORT_SHA: commit.slice(0, 7),
    BRANCH_NAME: branch,
    TAG_NAME: branch ? '' : tag,
    REF_NAME: branch || tag,
    REPO_NAME: full.split('/').pop() ?? full,
    REPO_FULL_NAME: full,
  });
  return values;
}

/** Paths (relative, '/'-separated) git would upload: tracked files and untracked ones not ignored. */
async function gitFiles(sourceDir: string): Promise<Set<string> | null> {
  if (!(await isDir(join(sourceDir, '.git')))) return null;
  const out = await git(sourceDir, ['ls-files', '--cached', '--others', '--exclude-standard', '-z']);
  if (out === null) return null;
  return new Set(out.split('\0').filter(Boolean));
}

export interface Workspace {
  /** Host directory bind-mounted at /workspace. */
  dir: string;
  /** Host directory bind-mounted at /builder/home. */
  home: string;
  remove(): Promise<void>;
}

/**
 * A temp copy of the source, like the checkout Cloud Build mounts at /workspace: in a git work
 * tree, the tracked files, untracked files git does not ignore, and .git itself (so steps can
 * ask git); otherwise the whole directory.
 */
export async function createWorkspace(sourceDir: string): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), 'sitepipe-cloudbuild-'));
  const dir = join(root, 'workspace');
  const home = join(root, 'home');
  await mkdir(home);
  try {
    const files = await gitFiles(sourceDir);
    const dirs = new Set<string>();
    for (const f of files ?? []) {
      for (let d = dirname(f); d !== '.' && !dirs.has(d); d = dirname(d)) dirs.add(d);
    }
    await cp(sourceDir, dir, {
      recursive: true,
      verbatimSymlinks: true,
      filter: (src) => {
        if (!files) return true;
        const rel = relative(sourceDir, src).split(sep).join('/');
        return rel === '' || rel === '.git' || rel.startsWith('.git/') || files.has(rel) || dirs.has(rel);
      },
    });
  } catch (e) {
    await rm(root, { recursive: true, force: true });
    throw e;
  }
  return { dir, home, remove: () => rm(root, { recursive: true, force: true }) };
}
