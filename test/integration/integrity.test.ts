import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../pipeline/clients/registry.js';
import { expectCode } from '../helpers/expect-code.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';
import { tempDir } from '../helpers/temp.js';

/**
 * A tag only ever names its own commit's complete, smoke-tested image: whatever records an
 * earlier run left, however runs overlap, and whichever build of a branch finishes last.
 */
const registry = new RegistryClient(SETUP_REGISTRY, null);

async function tagDigest(path: string, tag: string): Promise<string | null> {
  return registry.tagDigest(path, tag);
}

/** A commit with its own committer time, so that "later" means something. */
async function commitAt(repo: SiteRepo, when: string, message: string): Promise<string> {
  const env = { GIT_AUTHOR_DATE: when, GIT_COMMITTER_DATE: when };
  await execa('git', ['add', '-A'], { cwd: repo.dir });
  await execa('git', ['-c', 'user.name=A', '-c', 'user.email=a@example.com', 'commit', '-q', '-m', message], {
    cwd: repo.dir,
    env,
  });
  return repo.git('rev-parse', 'HEAD');
}

async function addPost(repo: SiteRepo, name: string): Promise<void> {
  await writeFile(
    join(repo.dir, 'content', 'posts', `${name}.md`),
    `---\ntitle: ${name}\ndate: 2026-02-01\n---\n\nA post called ${name}.\n`,
  );
}

describe('tags name only their own commit’s tested image (real registry, docker, hugo, git)', () => {
  const repos: SiteRepo[] = [];
  afterEach(async () => {
    await Promise.all(repos.splice(0).map((r) => r.remove()));
  });
  const site = async (path: string, image: string[] = []) => {
    const repo = await exampleRepo({
      configYaml: await exampleConfig(`${SETUP_REGISTRY}/${path}`, { image }),
    });
    repos.push(repo);
    return repo;
  };
  const dirs = async () => ({
    stateDir: await tempDir('sitepipe-state-'),
    cacheDir: await tempDir('sitepipe-cache-'),
  });

  it('push refuses records of another commit, or an image smoke did not pass', async () => {
    const path = `integrity-${randomBytes(4).toString('hex')}/website`;
    const repo = await site(path);
    const d = await dirs();
    const first = await runSteps({ config: repo.config, ...d });
    const a = first.outputs.push?.digest as string;

    // Commit B, then only `source tag`: the image record in the state dir is still A's.
    await addPost(repo, 'second');
    const b = (await commitAt(repo, '2026-03-02T12:00:00Z', 'second')).slice(0, 12);
    await runSteps({ config: repo.config, only: ['source', 'tag'], ...d });
    const stale = await expectCode(runSteps({ config: repo.config, only: ['push'], ...d }), 'RECORD_STALE');
    expect(stale.message).toMatch(/tag record of commit .* image record of commit/);
    // The other way round: a new image, but no tag step (the tag record is A's).
    await runSteps({ config: repo.config, only: ['source'], ...d });
    await addPost(repo, 'third');
    await commitAt(repo, '2026-03-03T12:00:00Z', 'third');
    await expectCode(
      runSteps({
        config: repo.config,
        only: ['source', 'hugo', 'pygments', 'render', 'image', 'smoke', 'push'],
        ...d,
      }),
      'RECORD_STALE',
    );

    // A commit whose smoke fails: a stylesheet the pages load is missing from the site.
    const layout = join(repo.dir, 'layouts', '_default', 'baseof.html');
    await writeFile(
      layout,
      (await readFile(layout, 'utf8')).replace(
        '</head>',
        '<link rel="stylesheet" href="/css/missing.css"></head>',
      ),
    );
    const broken = (await commitAt(repo, '2026-03-04T12:00:00Z', 'broken')).slice(0, 12);
    const smoke = await expectCode(runSteps({ config: repo.config, ...d }), 'SMOKE_FAILED');
    expect(smoke.details.join('\n')).toContain('/css/missing.css: 404');
    // Retrying only push (as Cloud Build retries a step) must not tag the untested image.
    await expectCode(runSteps({ config: repo.config, only: ['push'], ...d }), 'RECORD_MISSING');
    expect(await tagDigest(path, broken)).toBeNull();
    expect(await tagDigest(path, b)).toBeNull();
    expect(await tagDigest(path, 'master')).toBe(a);
  });

  it('refuses to move a commit tag that names another commit’s image', async () => {
    const path = `integrity-${randomBytes(4).toString('hex')}/website`;
    const repo = await site(path);
    const first = await runSteps({ config: repo.config, ...(await dirs()) });
    await addPost(repo, 'second');
    const b = (await commitAt(repo, '2026-03-02T12:00:00Z', 'second')).slice(0, 12);
    // Something (a branch named like the commit, pushed by an older tool) put A's image under B's tag.
    const manifest = await registry.getManifest(path, first.outputs.push?.digest as string);
    await registry.putManifest(path, b, manifest?.mediaType as string, manifest?.body as Buffer);
    const err = await expectCode(runSteps({ config: repo.config, ...(await dirs()) }), 'TAG_TAKEN');
    expect(err.message).toContain(`${path}:${b} names an image of commit`);
    expect(await tagDigest(path, b)).toBe(first.outputs.push?.digest);
  });

  it('never moves a branch tag back to an earlier commit of the branch', async () => {
    const path = `integrity-${randomBytes(4).toString('hex')}/website`;
    const older = await site(path);
    const olderSha = (await older.git('rev-parse', 'HEAD')).slice(0, 12);
    // A second checkout that goes on to a later commit; the first one never sees it.
    const newer = await site(path);
    await execa('git', ['fetch', '-q', older.dir, 'master'], { cwd: newer.dir });
    await execa('git', ['reset', '-q', '--hard', 'FETCH_HEAD'], { cwd: newer.dir });
    await addPost(newer, 'later');
    await commitAt(newer, '2026-03-05T12:00:00Z', 'later');
    const later = await runSteps({ config: newer.config, ...(await dirs()) });
    // The older build finishes last: its commit tag is set, the branch tag stays on the later commit.
    const late = await runSteps({ config: older.config, ...(await dirs()) });
    expect(late.lines).toMatch(/master not moved: .*committed later/);
    expect(late.outputs.push?.tags).toEqual([olderSha]);
    expect(await tagDigest(path, olderSha)).toBe(late.outputs.push?.digest);
    expect(await tagDigest(path, 'master')).toBe(later.outputs.push?.digest);
    // In a checkout that has both commits, ancestry decides.
    await execa('git', ['fetch', '-q', newer.dir, 'master'], { cwd: older.dir });
    const again = await runSteps({ config: older.config, ...(await dirs()) });
    expect(again.lines).toMatch(/master not moved: .*a later commit of the branch/);
    expect(await tagDigest(path, 'master')).toBe(later.outputs.push?.digest);
  });

  it('docker path: pushes exactly the image smoke ran, whatever the engine’s local names say now', async () => {
    const path = `integrity-${randomBytes(4).toString('hex')}/website`;
    const repo = await site(path, ['builder: docker']);
    const d = await dirs();
    const built = await runSteps({
      config: repo.config,
      only: ['source', 'tag', 'hugo', 'pygments', 'render', 'image', 'smoke'],
      ...d,
    });
    const tested = built.outputs.image?.localRef as string;
    expect(built.outputs.smoke?.image).toBe(tested);
    // Another build on the same engine names something else repo:master in the meantime.
    const repository = `${SETUP_REGISTRY}/${path}`;
    await execa('docker', ['tag', `${SETUP_REGISTRY}/library/nginx:stable`, `${repository}:master`]);
    const pushed = await runSteps({ config: repo.config, only: ['push'], ...d });
    for (const t of pushed.outputs.push?.tags ?? []) {
      const manifest = await registry.getManifest(path, (await tagDigest(path, t)) as string);
      expect(JSON.parse(manifest?.body.toString() ?? '{}').config.digest, t).toBe(tested);
    }
    expect(pushed.outputs.push?.tags).toHaveLength(2);
    await execa('docker', ['rmi', `${repository}:master`]).catch(() => undefined);
  });

  it('lets one run at a time use a state dir, and takes over the lock of a run that was killed', async () => {
    const path = `integrity-${randomBytes(4).toString('hex')}/website`;
    const repo = await site(path);
    const d = await dirs();
    const runs = await Promise.allSettled([
      runSteps({ config: repo.config, ...d }),
      runSteps({ config: repo.config, ...d }),
    ]);
    const failed = runs.filter((r) => r.status === 'rejected');
    expect(failed).toHaveLength(1);
    expect((failed[0] as PromiseRejectedResult).reason.code).toBe('STATE_DIR_BUSY');
    const ok = runs.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<
      Awaited<ReturnType<typeof runSteps>>
    >;
    expect(ok.value.outputs.render?.files).toBeGreaterThan(10);
    expect(ok.value.outputs.smoke?.tested).toBe(true);

    // A lock whose process is gone (its pid no longer runs) does not block the next run.
    const dead = spawnSync('true').pid as number;
    await writeFile(
      join(d.stateDir, 'locks', 'render.lock'),
      JSON.stringify({
        host: hostname(),
        pid: dead,
        start: null,
        since: '2026-01-01T00:00:00Z',
        command: 'x',
      }),
    );
    const next = await runSteps({ config: repo.config, ...d });
    expect(next.outputs.push?.digest).toBe(ok.value.outputs.push?.digest);
  });
});
