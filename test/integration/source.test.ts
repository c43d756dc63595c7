import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { source } from '../../steps/source.js';
import { testContext } from '../helpers/context.js';
import { exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

describe('source step (real git)', () => {
  let repo: SiteRepo | undefined;
  afterEach(async () => {
    await repo?.remove();
    repo = undefined;
  });

  it('reads commit, branch, commit time and origin without credentials', async () => {
    repo = await exampleRepo({ branch: 'feature/x' });
    await repo.git('remote', 'add', 'origin', 'https://user:tok3n@github.com/acme/site.git');
    const out = await source.run(testContext({ siteDir: repo.dir }), {});
    expect(out.commit).toBe(await repo.git('rev-parse', 'HEAD'));
    expect(out.shortSha).toBe(out.commit.slice(0, 12));
    expect(out.branch).toBe('feature/x');
    expect(out.commitTime).toBe('2026-03-01T12:00:00.000Z');
    expect(out.dirty).toBe(false);
    expect(out.sourceUrl).toBe('https://github.com/acme/site');
  });

  it('refuses uncommitted site changes, listing them', async () => {
    repo = await exampleRepo();
    await writeFile(join(repo.dir, 'content/posts/new.md'), '---\ntitle: New\n---\n');
    await expect(source.run(testContext({ siteDir: repo.dir }), {})).rejects.toMatchObject({
      code: 'DIRTY_WORKTREE',
      details: ['content/posts/new.md'],
      hint: expect.stringContaining('--allow-dirty'),
    });
  });

  it('lists a modified file by its whole name (git starts that line with a space)', async () => {
    repo = await exampleRepo();
    await writeFile(join(repo.dir, 'content/about.md'), 'changed\n');
    await expect(source.run(testContext({ siteDir: repo.dir }), {})).rejects.toMatchObject({
      code: 'DIRTY_WORKTREE',
      details: ['content/about.md'],
    });
  });

  it('builds them with --allow-dirty, marked dirty', async () => {
    repo = await exampleRepo();
    await writeFile(join(repo.dir, 'content/about.md'), 'changed\n');
    const ctx = testContext({ siteDir: repo.dir, allowDirty: true });
    const out = await source.run(ctx, {});
    expect(out.dirty).toBe(true);
    expect(ctx.lines.join('\n')).toMatch(/uncommitted/);
  });

  it('ignores its own state dir', async () => {
    repo = await exampleRepo();
    await rm(join(repo.dir, '.gitignore'));
    await repo.git('commit', '-qam', 'no ignore file');
    const ctx = testContext({ siteDir: repo.dir });
    await mkdir(join(ctx.stateDir, 'records'), { recursive: true });
    await writeFile(join(ctx.stateDir, 'records', 'tag.json'), '{}');
    expect((await source.run(ctx, {})).dirty).toBe(false);
  });

  it('has no branch on a detached HEAD unless BRANCH_NAME says so (as in Cloud Build)', async () => {
    repo = await exampleRepo();
    await repo.git('checkout', '-q', '--detach');
    expect((await source.run(testContext({ siteDir: repo.dir, env: {} }), {})).branch).toBeNull();
    const ctx = testContext({ siteDir: repo.dir, env: { BRANCH_NAME: 'main' } });
    expect((await source.run(ctx, {})).branch).toBe('main');
  });

  it('says when the site is not in git', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sitepipe-nogit-'));
    await expect(source.run(testContext({ siteDir: dir }), {})).rejects.toMatchObject({
      code: 'NOT_A_GIT_REPO',
    });
    await rm(dir, { recursive: true });
  });
});
