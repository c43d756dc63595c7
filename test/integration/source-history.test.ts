import { randomBytes } from 'node:crypto';
import { appendFile, copyFile, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lastChanges, shallowBoundary } from '../../pipeline/clients/git.js';
import { RegistryClient } from '../../pipeline/clients/registry.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { EXAMPLE_DIR, exampleConfig } from '../helpers/site-repo.js';

const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];
const MEDIA = 'static/images/café.png';

/** Commits everything in `dir` at `date` (an ISO time); returns the commit. */
async function commitAll(dir: string, message: string, date: string): Promise<string> {
  const env = {
    GIT_AUTHOR_NAME: 'Site Author',
    GIT_AUTHOR_EMAIL: 'author@example.com',
    GIT_COMMITTER_NAME: 'Site Author',
    GIT_COMMITTER_EMAIL: 'author@example.com',
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_DATE: date,
  };
  await execa('git', ['add', '-A'], { cwd: dir });
  await execa('git', ['commit', '-qm', message], { cwd: dir, env });
  return (await execa('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout;
}

describe('media times from git history: shallow clones, exact names (real git, hugo, registry)', () => {
  const root = { dir: '' };
  const origin = () => `file://${join(root.dir, 'origin')}`;
  const path = `history-${randomBytes(4).toString('hex')}/website`;
  const registry = new RegistryClient(SETUP_REGISTRY, null);
  const commits: string[] = [];

  /**
   * origin: a README, an edit to it, then the site with a media file named café.png (media
   * last changes here), then two post edits. A clone of depth 4 reaches back to the README
   * edit, so no media time comes from its boundary; depth 3 stops at the site's commit.
   */
  beforeAll(async () => {
    root.dir = await mkdtemp(join(tmpdir(), 'sitepipe-history-'));
    const dir = join(root.dir, 'origin');
    await execa('git', ['init', '-q', '-b', 'main', dir]);
    await writeFile(join(dir, 'README.md'), 'a site\n');
    commits.push(await commitAll(dir, 'readme', '2026-01-01T00:00:00Z'));
    await appendFile(join(dir, 'README.md'), 'more\n');
    commits.push(await commitAll(dir, 'readme edit', '2026-01-02T00:00:00Z'));
    await cp(EXAMPLE_DIR, dir, {
      recursive: true,
      filter: (src) => !/\/(public|resources|\.sitepipe)$/.test(src),
    });
    await copyFile(join(dir, 'static/images/ocean.png'), join(dir, MEDIA));
    await writeFile(join(dir, '.gitignore'), '.sitepipe/\n');
    const config = await exampleConfig(`${SETUP_REGISTRY}/${path}`);
    await writeFile(join(dir, 'sitepipe.yaml'), config);
    await writeFile(
      join(dir, 'sitepipe-commit-times.yaml'),
      config.replace(/^image:\n/m, 'image:\n  mediaTimes: commit\n'),
    );
    commits.push(await commitAll(dir, 'site', '2026-02-01T00:00:00Z'));
    for (const [i, date] of ['2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z'].entries()) {
      await appendFile(join(dir, 'content/posts/hello-sitepipe.md'), `\nEdit ${i}.\n`);
      commits.push(await commitAll(dir, `edit ${i}`, date));
    }
  });
  afterAll(() => rm(root.dir, { recursive: true, force: true }));

  /** A clone of origin (full, or with --depth) in a fresh directory. */
  async function clone(depth?: number): Promise<string> {
    const dir = join(root.dir, `clone-${depth ?? 'full'}-${randomBytes(3).toString('hex')}`);
    await execa('git', ['clone', '-q', ...(depth ? ['--depth', String(depth)] : []), origin(), dir]);
    return dir;
  }

  const build = async (dir: string, config = 'sitepipe.yaml') => {
    const { outputs } = await runSteps({ config: join(dir, config), only: BUILD });
    expect(outputs.image?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    return outputs.image?.digest as string;
  };

  it("reads a media file's last change by its exact name (git quotes café.png otherwise)", async () => {
    const changes = await lastChanges(join(root.dir, 'origin'));
    expect(changes.get(MEDIA)).toEqual({ commit: commits[2], time: new Date('2026-02-01T00:00:00Z') });
    expect(changes.get('content/posts/hello-sitepipe.md')?.commit).toBe(commits[4]);
  });

  it('keeps that media layer from commit to commit: a post edit re-sends no media', async () => {
    const dir = await clone();
    await execa('git', ['checkout', '-q', commits[3] as string], { cwd: dir });
    const before = await build(dir);
    await execa('git', ['checkout', '-q', commits[4] as string], { cwd: dir });
    const after = await build(dir);
    const media = async (digest: string) => {
      const manifest = JSON.parse((await registry.getManifest(path, digest))?.body.toString() ?? '{}');
      const config = JSON.parse((await registry.getBlob(path, manifest.config.digest)).toString());
      const names = (config.history as Array<{ created_by?: string; empty_layer?: boolean }>)
        .filter((h) => !h.empty_layer)
        .map((h) => h.created_by ?? '');
      const layers = manifest.layers as Array<{ digest: string }>;
      return layers.filter((_, i) => /assets-\d/.test(names[i] ?? '')).map((l) => l.digest);
    };
    const [a, b] = [await media(before), await media(after)];
    expect(a.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it('finds the boundary of a shallow clone, and none in a full one', async () => {
    expect(await shallowBoundary(await clone())).toEqual(new Set());
    expect(await shallowBoundary(await clone(1))).toEqual(new Set([commits[4]]));
    expect(await shallowBoundary(await clone(4))).toEqual(new Set([commits[1]]));
  });

  it('fails SHALLOW_CLONE when a media time would come from the boundary of a shallow clone', async () => {
    for (const depth of [1, 3]) {
      const dir = await clone(depth);
      expect((await execa('git', ['rev-parse', '--is-shallow-repository'], { cwd: dir })).stdout).toBe(
        'true',
      );
      const err = await runSteps({ config: join(dir, 'sitepipe.yaml'), only: BUILD }).catch(
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ code: 'SHALLOW_CLONE', message: expect.stringContaining(MEDIA) });
      expect((err as { hint: string }).hint).toMatch(/git fetch --unshallow.*--depth.*mediaTimes: commit/);
    }
  });

  it("gives a deep enough shallow clone the full clone's digest", async () => {
    const deep = await clone(4);
    expect((await execa('git', ['rev-parse', '--is-shallow-repository'], { cwd: deep })).stdout).toBe('true');
    expect(await build(deep)).toBe(await build(await clone()));
  });

  it('with image.mediaTimes: commit, gives a depth-1 clone and a full clone one digest', async () => {
    const full = await build(await clone(), 'sitepipe-commit-times.yaml');
    expect(await build(await clone(1), 'sitepipe-commit-times.yaml')).toBe(full);
    expect(full).not.toBe(await build(await clone()));
  });
});
