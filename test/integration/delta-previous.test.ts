import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];

/** Which images count as the previous release (real registry, hugo, git, skopeo). */
describe('the previous release', () => {
  let repo: SiteRepo;
  let work: string;
  const id = randomBytes(4).toString('hex');
  const repository = (name: string) => `${SETUP_REGISTRY}/prev-${id}/${name}`;
  const copy = (from: string, to: string) =>
    execa('skopeo', [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${from}`,
      `docker://${to}`,
    ]);
  let parentTag = '';

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'sitepipe-prev-'));
    repo = await exampleRepo({
      configYaml: await exampleConfig(repository('a'), { sections: ['smoke: { enabled: false }'] }),
    });
    // Configs of the same site: to other repositories, and with delta layers off.
    const quick = { sections: ['smoke: { enabled: false }'] };
    const configs = {
      a: await exampleConfig(repository('a'), quick),
      off: await exampleConfig(repository('a'), { ...quick, image: ['delta: { enabled: false }'] }),
      b: await exampleConfig(repository('b'), quick),
      c: await exampleConfig(repository('c'), quick),
    };
    for (const [name, yaml] of Object.entries(configs))
      await writeFile(join(repo.dir, `sitepipe-${name}.yaml`), yaml);
    await repo.git('add', '-A');
    await repo.git('commit', '-qm', 'configs');
    parentTag = (await repo.git('rev-parse', 'HEAD')).slice(0, 12);
    // The parent's image, pushed (tagged) to repository a.
    await runSteps({
      config: repo.config,
      only: [...BUILD, 'smoke', 'push'],
      stateDir: join(work, 's0'),
      cacheDir: join(work, 'c0'),
    });
    const post = join(repo.dir, 'content/posts/hello-sitepipe.md');
    await writeFile(post, `${await readFile(post, 'utf8')}\nOne more line.\n`);
    await execa('git', ['commit', '-qam', 'edit'], {
      cwd: repo.dir,
      env: {
        GIT_AUTHOR_NAME: 'a',
        GIT_AUTHOR_EMAIL: 'a@b.c',
        GIT_COMMITTER_NAME: 'a',
        GIT_COMMITTER_EMAIL: 'a@b.c',
        GIT_COMMITTER_DATE: '2026-03-02T10:00:00Z',
        GIT_AUTHOR_DATE: '2026-03-02T10:00:00Z',
      },
    });
  });
  afterAll(async () => {
    await repo?.remove();
    await rm(work, { recursive: true, force: true });
  });

  /** The image step of the edit commit with sitepipe-<config>.yaml. */
  const build = (config: string, env: NodeJS.ProcessEnv = {}) =>
    runSteps({
      config: join(repo.dir, `sitepipe-${config}.yaml`),
      only: BUILD,
      stateDir: join(work, `s-${config}-${Math.random()}`),
      cacheDir: join(work, `c-${config}`),
      env,
    });

  it("is the parent's image in the same repository; delta off, or SITEPIPE_FULL_LAYERS=1, writes full layers", async () => {
    const r = await build('a');
    expect(r.outputs.image?.layers).toBe('delta');
    expect((await build('off')).outputs.image?.layers).toBe('full');
    expect((await build('a', { SITEPIPE_FULL_LAYERS: '1' })).outputs.image?.layers).toBe('full');
  });

  it("is not the same site's image copied to another repository, nor an image sitepipe did not build", async () => {
    await copy(`${repository('a')}:${parentTag}`, `${repository('b')}:${parentTag}`);
    const b = await build('b');
    expect(b.outputs.image?.layers).toBe('full');
    expect(b.lines).toMatch(/of another repository/);

    await copy(`${SETUP_REGISTRY}/library/nginx:stable`, `${repository('c')}:${parentTag}`);
    const c = await build('c');
    expect(c.outputs.image?.layers).toBe('full');
    expect(c.outputs.image?.previous).toBeNull();
  });
});
