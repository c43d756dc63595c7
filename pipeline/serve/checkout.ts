import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SitepipeError } from '../errors.js';
import { runProcess } from '../process.js';
import { Mutex } from './mutex.js';

const FETCH_TIMEOUT_MS = 5 * 60_000;

/**
 * A cached bare mirror of the remote, fetched per push, and a fresh detached worktree per run
 * at the exact pushed commit. git operations on the mirror take one lock: two fetches (or a
 * fetch and a `worktree add`) at once would fight over its ref locks.
 */
export class Checkouts {
  private readonly mirror: string;
  private readonly worktrees: string;
  private readonly lock = new Mutex();

  constructor(
    dataDir: string,
    private readonly remote: string,
  ) {
    this.mirror = join(dataDir, 'mirror.git');
    this.worktrees = join(dataDir, 'worktrees');
  }

  private git(args: string[], signal?: AbortSignal) {
    return runProcess('git', ['-C', this.mirror, ...args], {
      signal,
      timeoutMs: FETCH_TIMEOUT_MS,
      // No terminal prompt for credentials: a server has no one to answer it.
      env: { GIT_TERMINAL_PROMPT: '0' },
      code: 'SERVE_GIT_FAILED',
      hint: `check that serve.remote (${this.remote}) is reachable and readable with the server's credentials`,
    });
  }

  /**
   * Removes worktrees a killed server left behind. A server killed while it created the mirror
   * leaves a directory that is not a repository yet: the next checkout initialises it.
   */
  async clean(): Promise<void> {
    await rm(this.worktrees, { recursive: true, force: true });
    if (existsSync(join(this.mirror, 'HEAD'))) await this.git(['worktree', 'prune']);
  }

  /** Fetches `branch` and checks `commit` out in a new worktree; returns its path. */
  async checkout(runId: number, branch: string, commit: string, signal?: AbortSignal): Promise<string> {
    return this.lock.run(async () => {
      if (!existsSync(join(this.mirror, 'HEAD'))) {
        await mkdir(this.mirror, { recursive: true });
        await this.git(['init', '-q', '--bare']);
      }
      // The branch's ref, then (moved on, force-pushed, or a ref the mirror cannot hold beside
      // another, as a/b beside a) the commit itself, as GitHub and git's file remotes allow.
      const refError = await this.git(
        ['fetch', '-q', '--no-tags', this.remote, `+refs/heads/${branch}:refs/heads/${branch}`],
        signal,
      ).then(
        () => null,
        (e: unknown) => e,
      );
      if (!(await this.hasCommit(commit))) {
        await this.git(['fetch', '-q', '--no-tags', this.remote, commit], signal).catch(() => undefined);
      }
      if (!(await this.hasCommit(commit))) {
        if (refError) throw refError;
        throw new SitepipeError(
          'SERVE_COMMIT_GONE',
          `commit ${commit} of ${branch} is no longer on ${this.remote}`,
          'it was force-pushed away before its run started; the branch’s newer push is built instead',
        );
      }
      const dir = join(this.worktrees, `run-${runId}`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(this.worktrees, { recursive: true });
      await this.git(['worktree', 'add', '-q', '--detach', dir, commit], signal);
      return dir;
    });
  }

  private async hasCommit(commit: string): Promise<boolean> {
    return this.git(['cat-file', '-e', `${commit}^{commit}`]).then(
      () => true,
      () => false,
    );
  }

  async remove(dir: string): Promise<void> {
    await this.lock.run(async () => {
      await this.git(['worktree', 'remove', '--force', dir]).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      await this.git(['worktree', 'prune']);
    });
  }
}
