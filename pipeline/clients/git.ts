import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, posix, relative, resolve } from 'node:path';
import { SitepipeError } from '../errors.js';
import { runProcess } from '../process.js';

const GIT_TIMEOUT_MS = 30_000;

/** git's output as printed: NUL-separated (-z) output must not lose a name's leading or trailing spaces. */
async function gitRaw(cwd: string, args: string[], signal?: AbortSignal): Promise<string> {
  const { stdout } = await runProcess('git', args, {
    cwd,
    signal,
    timeoutMs: GIT_TIMEOUT_MS,
    code: 'GIT_FAILED',
    hint: 'check that the site is inside a git work tree with at least one commit',
  });
  return stdout;
}

async function git(cwd: string, args: string[], signal?: AbortSignal): Promise<string> {
  return (await gitRaw(cwd, args, signal)).trim();
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

/** Where `dir` is in its repository, as git prints paths: "" at the top, else "site/". */
async function repoPrefix(dir: string, signal?: AbortSignal): Promise<string> {
  return git(dir, ['rev-parse', '--show-prefix'], signal);
}

/** `path` (relative to the repository's top) relative to `prefix` instead, keeping a directory's trailing "/". */
function underPrefix(prefix: string, path: string): string {
  if (path.startsWith(prefix)) return path.slice(prefix.length);
  const rel = posix.relative(prefix, path);
  return path.endsWith('/') ? `${rel}/` : rel;
}

function nulFields(out: string): string[] {
  const fields = out.split('\0');
  if (fields.at(-1) === '') fields.pop();
  return fields;
}

export interface WorktreeChange {
  /** Relative to the directory asked about; a directory git reports whole ends in "/". */
  path: string;
  /** git status's two-letter code: " M", "A ", "??" (untracked), "!!" (ignored), "R " (renamed)… */
  status: string;
  /** A renamed or copied path's old name. */
  from?: string;
}

/**
 * `git status --porcelain -z` entries: "XY path", and for a rename or copy "XY new" then
 * "old" as the next field. Names are exact (no quoting) and relative to the repository's top.
 */
export function parseStatus(out: string): WorktreeChange[] {
  const fields = nulFields(out);
  const changes: WorktreeChange[] = [];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    const change: WorktreeChange = { status: field.slice(0, 2), path: field.slice(3) };
    if (/[RC]/.test(change.status)) change.from = fields[++i];
    changes.push(change);
  }
  return changes;
}

/** Checked-out submodules (gitlinks with a work tree) under `spec`, relative to `cwd`. */
async function submodules(cwd: string, spec: readonly string[], signal?: AbortSignal): Promise<string[]> {
  const out = await gitRaw(cwd, ['ls-files', '-z', '--stage', '--', ...spec], signal);
  return nulFields(out)
    .filter((line) => line.startsWith('160000 '))
    .map((line) => line.slice(line.indexOf('\t') + 1))
    .filter((sub) => existsSync(join(cwd, sub, '.git')));
}

/**
 * What under `paths` differs from HEAD: modified, staged, untracked and ignored paths (an
 * ignored directory once, as "dir/"), leaving out `exclude` (sitepipe's own state and
 * outputs). A submodule with changes of its own is one " M" entry; the ignored files inside
 * it, which the superproject does not see, are asked of the submodule. `cwd` is any
 * directory in the work tree; pathspecs and the paths returned are relative to it.
 */
export async function changedPaths(
  cwd: string,
  paths: readonly string[],
  exclude: readonly string[],
  signal?: AbortSignal,
): Promise<WorktreeChange[]> {
  const spec = [
    ...paths.map((p) => relative(cwd, p) || '.'),
    ...exclude
      .map((p) => relative(cwd, p))
      .filter((rel) => rel !== '' && !rel.startsWith('..'))
      .map((rel) => `:(exclude)${rel}`),
  ];
  const [out, prefix, subs] = await Promise.all([
    gitRaw(
      cwd,
      [
        'status',
        '--porcelain',
        '-z',
        '--untracked-files=all',
        '--ignored=matching',
        // A theme's local edits count even where .gitmodules says `ignore = dirty`.
        '--ignore-submodules=none',
        '--',
        ...spec,
      ],
      signal,
    ),
    repoPrefix(cwd, signal),
    submodules(cwd, spec, signal),
  ]);
  const under = (path: string) => underPrefix(prefix, path);
  const changes = parseStatus(out).map(
    (c): WorktreeChange => ({ ...c, path: under(c.path), from: c.from && under(c.from) }),
  );
  for (const sub of subs) {
    const inner = await changedPaths(join(cwd, sub), [join(cwd, sub)], [], signal);
    for (const c of inner) if (c.status === '!!') changes.push({ ...c, path: `${sub}/${c.path}` });
  }
  return changes;
}

/** The origin as the image's source label, or null; see publicSourceUrl. */
export async function sourceUrl(root: string, signal?: AbortSignal): Promise<string | null> {
  const url = await git(root, ['config', '--get', 'remote.origin.url'], signal).catch(() => '');
  return publicSourceUrl(url);
}

/**
 * The repository a remote names, spelled one way however it was cloned: the label is part of
 * the image, so `git@host:org/site.git`, `ssh://git@host/org/site` and
 * `https://user:token@host/org/site.git` must all give `https://host/org/site`, or two clones of
 * one commit would get two digests. A remote on this machine (a path, file://) names no public
 * place and would put a local path into the image: null.
 */
export function publicSourceUrl(remote: string): string | null {
  const url = remote.trim();
  const scp = /^[^@/:\s]+@([^:/\s]+):(?!\/)(.+)$/.exec(url);
  const parsed = scp ? `https://${scp[1]}/${scp[2]}` : url;
  let u: URL;
  try {
    u = new URL(parsed);
  } catch {
    return null;
  }
  if (!['https:', 'http:', 'ssh:', 'git:'].includes(u.protocol) || !u.hostname) return null;
  const path = u.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
  return `https://${u.hostname}${path}`;
}

export function stripCredentials(url: string): string {
  return url.replace(/^(\w+:\/\/)[^@/]+@/, '$1');
}

/** Files under `dir` that are in the index (committed or staged), relative to it. */
export async function trackedFiles(dir: string, signal?: AbortSignal): Promise<string[]> {
  return nulFields(await gitRaw(dir, ['ls-files', '-z', '--', '.'], signal));
}

export interface LogEntry {
  commit: string;
  time: Date;
  /** Relative to the repository's top, exact. */
  paths: string[];
}

/**
 * `git log -z --format=%x00%H %ct --name-only`: each commit is an empty field, then
 * "<hash> <time>", then the names it touched, one per field, the first after a "\n". Names
 * are never empty, so the empty field marks the next commit whatever the names hold.
 */
export function parseLog(out: string): LogEntry[] {
  const entries: LogEntry[] = [];
  let header = false;
  for (const field of nulFields(out)) {
    const current = entries.at(-1);
    if (field === '') header = true;
    else if (header || !current) {
      const [commit = '', seconds = '0'] = field.split(' ');
      entries.push({ commit, time: new Date(Number(seconds) * 1000), paths: [] });
      header = false;
    } else current.paths.push(current.paths.length === 0 ? field.replace(/^\n/, '') : field);
  }
  return entries;
}

export interface LastChange {
  commit: string;
  time: Date;
}

/**
 * The commit that last changed each file under `dir`, by path relative to `dir`: one
 * `git log` over the history, the newest commit naming a path wins.
 */
export async function lastChanges(dir: string, signal?: AbortSignal): Promise<Map<string, LastChange>> {
  const [out, prefix] = await Promise.all([
    gitRaw(dir, ['log', '-z', '--format=%x00%H %ct', '--name-only', '--no-renames', '--', '.'], signal),
    repoPrefix(dir, signal),
  ]);
  const changes = new Map<string, LastChange>();
  for (const { commit, time, paths } of parseLog(out)) {
    for (const path of paths) {
      const rel = underPrefix(prefix, path);
      if (!changes.has(rel)) changes.set(rel, { commit, time });
    }
  }
  return changes;
}

/**
 * A shallow clone's boundary commits (`git clone --depth N`): their parents are missing, so
 * git shows every file as added there and the time a file last changed before them is
 * unknown. Empty for a full clone.
 */
export async function shallowBoundary(dir: string, signal?: AbortSignal): Promise<Set<string>> {
  const answer = await git(dir, ['rev-parse', '--is-shallow-repository', '--git-path', 'shallow'], signal);
  const [shallow, file = ''] = answer.split('\n');
  if (shallow !== 'true') return new Set();
  const text = await readFile(resolve(dir, file), 'utf8');
  return new Set(text.split('\n').filter(Boolean));
}
