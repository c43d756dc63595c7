import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { Checkouts } from '../../pipeline/serve/checkout.js';

/** A server killed with -9 may stop anywhere, also while it creates its mirror. */
describe('serve checkouts after a kill (real git)', () => {
  let dir: string;
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('starts over a mirror directory that is not a repository yet, and checks the commit out', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sitepipe-checkouts-'));
    const remote = join(dir, 'remote');
    await execa('git', ['init', '-q', '-b', 'main', remote]);
    await execa(
      'git',
      ['-c', 'user.name=a', '-c', 'user.email=a@b', 'commit', '-q', '--allow-empty', '-m', 'x'],
      {
        cwd: remote,
      },
    );
    const commit = (await execa('git', ['rev-parse', 'HEAD'], { cwd: remote })).stdout;
    const data = join(dir, 'data');
    // What `mkdir` before `git init --bare` leaves when the kill comes in between.
    await mkdir(join(data, 'mirror.git'), { recursive: true });
    const checkouts = new Checkouts(data, remote);
    await checkouts.clean();
    const tree = await checkouts.checkout(1, 'main', commit);
    expect((await execa('git', ['rev-parse', 'HEAD'], { cwd: tree })).stdout).toBe(commit);
    await checkouts.remove(tree);
  });
});
