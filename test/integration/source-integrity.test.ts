import { appendFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { source } from '../../steps/source.js';
import { testContext } from '../helpers/context.js';
import { expectCode } from '../helpers/expect-code.js';
import { exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

const CONFIG = 'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website }\n';
const WITH_OUTPUTS =
  'hugo: { version: 0.111.3 }\nimage: { repository: 127.0.0.1:5000/website, ociLayout: out/layout, dockerArchive: out/image.tar }\n';

async function put(path: string, text = 'x\n'): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
}

/** The source step on the repo's site, without --allow-dirty. */
const check = (dir: string, configYaml = CONFIG) => source.run(testContext({ siteDir: dir, configYaml }), {});

describe('source step: only the commit is shipped (real git)', () => {
  let repo: SiteRepo;
  const temps: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sitepipe-outside-'));
    temps.push(dir);
    return dir;
  };
  afterEach(async () => {
    await repo?.remove();
    await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  it('refuses a committed link out of the site, naming the link and its target', async () => {
    repo = await exampleRepo();
    await symlink('/etc/passwd', join(repo.dir, 'static/passwd'));
    await repo.git('add', '-A');
    await repo.git('commit', '-qm', 'link');
    const err = await expectCode(check(repo.dir), 'SYMLINK_OUTSIDE_SITE');
    expect(err.message).toContain('static/passwd -> /etc/passwd');
    expect(err.details).toEqual(['static/passwd -> /etc/passwd']);
    expect(err.hint).toMatch(/inside the site/);
  });

  it('refuses one that is untracked or ignored, and a theme linked in from outside', async () => {
    repo = await exampleRepo();
    await appendFile(join(repo.dir, '.gitignore'), 'static/hidden\n');
    await repo.git('commit', '-qam', 'ignore');
    await symlink('/etc/hostname', join(repo.dir, 'static/hidden'));
    await symlink('/etc/passwd', join(repo.dir, 'static/untracked'));
    const theme = await tempDir();
    await put(join(theme, 'layouts/partials/x.html'), 'theme\n');
    await mkdir(join(repo.dir, 'themes'));
    await symlink(theme, join(repo.dir, 'themes/mine'));
    const err = await expectCode(check(repo.dir), 'SYMLINK_OUTSIDE_SITE');
    expect([...err.details].sort()).toEqual(
      ['static/hidden -> /etc/hostname', 'static/untracked -> /etc/passwd', `themes/mine -> ${theme}`].sort(),
    );
  });

  it('accepts links that stay in the site', async () => {
    repo = await exampleRepo();
    await put(join(repo.dir, 'common/logo.svg'), '<svg/>\n');
    await symlink('../../common/logo.svg', join(repo.dir, 'static/images/logo.svg'));
    await repo.git('add', '-A');
    await repo.git('commit', '-qm', 'common logo');
    expect((await check(repo.dir)).dirty).toBe(false);
  });

  it('counts an ignored file where Hugo reads as dirty, listing it as ignored', async () => {
    repo = await exampleRepo();
    await appendFile(join(repo.dir, '.gitignore'), 'secret.txt\ndrafts/\n*.local.toml\n');
    await repo.git('commit', '-qam', 'ignore');
    await put(join(repo.dir, 'static/secret.txt'), 'from this machine\n');
    await put(join(repo.dir, 'content/drafts/wip.md'), '---\ntitle: WIP\n---\n');
    await put(join(repo.dir, 'config/_default/params.local.toml'), 'x = 1\n');
    const err = await expectCode(check(repo.dir), 'DIRTY_WORKTREE');
    expect([...err.details].sort()).toEqual([
      'config/_default/params.local.toml (ignored)',
      'content/drafts/ (ignored)',
      'static/secret.txt (ignored)',
    ]);
    expect(err.hint).toMatch(/ignored/);
  });

  it('counts an ignored dir that a committed link brings into the site', async () => {
    repo = await exampleRepo();
    await appendFile(join(repo.dir, '.gitignore'), 'notes/\n');
    await symlink('../notes', join(repo.dir, 'content/notes'));
    await repo.git('add', '-A');
    await repo.git('commit', '-qm', 'notes link');
    expect((await check(repo.dir)).dirty).toBe(false);
    await put(join(repo.dir, 'notes/a.md'), '---\ntitle: A\n---\n');
    const err = await expectCode(check(repo.dir), 'DIRTY_WORKTREE');
    expect(err.details).toEqual(['notes/ (ignored)']);
  });

  it("keeps ignored things Hugo does not publish clean: node_modules (the site's and a theme's), the state dir, public/, resources/", async () => {
    repo = await exampleRepo();
    await put(join(repo.dir, 'themes/t/layouts/partials/t.html'), 'theme\n');
    await appendFile(join(repo.dir, '.gitignore'), 'node_modules/\n');
    await repo.git('add', '-A');
    await repo.git('commit', '-qm', 'theme');
    await put(join(repo.dir, 'node_modules/postcss/index.js'));
    await put(join(repo.dir, 'themes/t/node_modules/autoprefixer/index.js'));
    await put(join(repo.dir, '.sitepipe/records/tag.json'), '{}');
    await put(join(repo.dir, 'public/index.html'));
    await put(join(repo.dir, 'resources/_gen/images/x.png'));
    expect((await check(repo.dir)).dirty).toBe(false);
  });

  it('leaves out the OCI layout and docker archive the config writes next to the site', async () => {
    repo = await exampleRepo();
    await rm(join(repo.dir, '.gitignore'));
    await repo.git('commit', '-qam', 'no ignore file');
    const ctx = testContext({ siteDir: repo.dir, configYaml: WITH_OUTPUTS });
    await put(join(repo.dir, 'out/layout/index.json'), '{}');
    await put(join(repo.dir, 'out/layout/blobs/sha256/abc'));
    await put(join(repo.dir, 'out/image.tar'));
    await put(join(ctx.stateDir, 'records/tag.json'), '{}');
    expect((await source.run(ctx, {})).dirty).toBe(false);
    await put(join(repo.dir, 'out/other.txt'));
    await expect(source.run(ctx, {})).rejects.toMatchObject({ details: ['out/other.txt'] });
  });

  it('judges a site in a subdirectory by its own paths', async () => {
    repo = await exampleRepo();
    await mkdir(join(repo.dir, 'site'));
    for (const entry of ['content', 'layouts', 'static', 'hugo.toml', 'sitepipe.yaml'])
      await repo.git('mv', entry, `site/${entry}`);
    await appendFile(join(repo.dir, '.gitignore'), '*.secret\n');
    await repo.git('commit', '-qam', 'site in a subdirectory');
    const site = join(repo.dir, 'site');
    expect((await check(site)).dirty).toBe(false);
    await put(join(repo.dir, 'other.secret'));
    expect((await check(site)).dirty).toBe(false);
    await put(join(site, 'static/key.secret'));
    await expect(check(site)).rejects.toMatchObject({
      code: 'DIRTY_WORKTREE',
      details: ['static/key.secret (ignored)'],
    });
  });

  describe('with the theme as a git submodule', () => {
    async function withThemeSubmodule(): Promise<string> {
      const theme = await tempDir();
      const git = (...args: string[]) =>
        execa('git', ['-c', 'user.name=T', '-c', 'user.email=t@example.com', ...args], { cwd: theme });
      await put(join(theme, 'layouts/partials/theme.html'), 'theme\n');
      await put(join(theme, 'static/theme.css'), 'body{}\n');
      await put(join(theme, '.gitignore'), 'node_modules/\n*.gen\n');
      await git('init', '-q');
      await git('add', '-A');
      await git('commit', '-qm', 'theme');
      repo = await exampleRepo();
      await repo.git('-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', theme, 'themes/t');
      await repo.git('commit', '-qm', 'theme submodule');
      return join(repo.dir, 'themes/t');
    }

    it('is clean when the submodule is (its files are tracked by it), and ignores its node_modules', async () => {
      const theme = await withThemeSubmodule();
      await put(join(theme, 'node_modules/x/index.js'));
      expect((await check(repo.dir)).dirty).toBe(false);
    });

    it('is dirty when the submodule has local changes', async () => {
      const theme = await withThemeSubmodule();
      await put(join(theme, 'layouts/partials/theme.html'), 'edited\n');
      await expect(check(repo.dir)).rejects.toMatchObject({ code: 'DIRTY_WORKTREE', details: ['themes/t'] });
    });

    it('is dirty when the submodule holds an ignored file where Hugo reads', async () => {
      const theme = await withThemeSubmodule();
      await put(join(theme, 'static/bundle.gen'));
      await expect(check(repo.dir)).rejects.toMatchObject({
        code: 'DIRTY_WORKTREE',
        details: ['themes/t/static/bundle.gen (ignored)'],
      });
    });
  });
});
