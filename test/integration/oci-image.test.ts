import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../pipeline/clients/registry.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { EXAMPLE_DIR, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];

describe('daemonless image (oci builder, real registry, hugo, git, docker)', () => {
  let repo: SiteRepo;
  const path = `oci-${randomBytes(4).toString('hex')}/website`;
  const repository = `${SETUP_REGISTRY}/${path}`;
  const registry = new RegistryClient(SETUP_REGISTRY, null);

  beforeAll(async () => {
    const example = await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8');
    const configYaml = `${example.replace(/repository: .*/, `repository: ${repository}`)}\n`.replace(
      /credentials: .*/,
      'credentials: none',
    );
    repo = await exampleRepo({ configYaml: `${configYaml}\n` });
  });
  afterAll(() => repo?.remove());

  const tempDirs = async () => ({
    stateDir: await mkdtemp(join(tmpdir(), 'sitepipe-state-')),
    cacheDir: await mkdtemp(join(tmpdir(), 'sitepipe-cache-')),
  });

  it('gives the same digest for the same commit, in other state and cache dirs', async () => {
    const a = await runSteps({ config: repo.config, only: BUILD, ...(await tempDirs()) });
    const b = await runSteps({ config: repo.config, only: BUILD, ...(await tempDirs()) });
    expect(a.outputs.image?.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.outputs.image?.digest).toBe(a.outputs.image?.digest);
    // Nothing is tagged by the image step: tags move only after smoke.
    const tags = await fetch(`http://${SETUP_REGISTRY}/v2/${path}/tags/list`).then((r) => r.json());
    expect((tags as { tags: string[] | null }).tags ?? []).toEqual([]);
  });

  it('is consistent in the registry, readable by skopeo, and served by Docker', async () => {
    const { outputs } = await runSteps({ config: repo.config, ...(await tempDirs()) });
    const digest = outputs.push?.digest as string;
    expect(digest).toBe(outputs.image?.digest);
    const commit = await repo.git('rev-parse', 'HEAD');

    const manifest = await registry.getManifest(path, digest);
    const parsed = JSON.parse(manifest?.body.toString() ?? '{}');
    expect(parsed.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    for (const blob of [parsed.config, ...parsed.layers]) {
      const head = await fetch(`http://${SETUP_REGISTRY}/v2/${path}/blobs/${blob.digest}`, {
        method: 'HEAD',
      });
      expect(head.status).toBe(200);
      expect(Number(head.headers.get('content-length'))).toBe(blob.size);
    }
    const config = JSON.parse((await registry.getBlob(path, parsed.config.digest)).toString());
    expect(config.rootfs.diff_ids).toHaveLength(parsed.layers.length);
    expect(config.created).toBe('2026-03-01T12:00:00.000Z');

    const { stdout } = await execa('skopeo', [
      'inspect',
      '--tls-verify=false',
      `docker://${repository}:${commit.slice(0, 12)}`,
    ]);
    const inspected = JSON.parse(stdout);
    expect(inspected.Digest).toBe(digest);
    expect(inspected.Labels['org.opencontainers.image.revision']).toBe(commit);
    expect(inspected.Labels['org.opencontainers.image.base.digest']).toMatch(/^sha256:/);
    // smoke already ran this digest under Docker; the pages' Last-Modified is the commit time.
    expect(outputs.smoke?.pages).toBeGreaterThan(10);
  });

  it('after a one-post edit (a new commit, a new time), uploads one delta layer over the previous release', async () => {
    const dirs = await tempDirs();
    const first = await runSteps({ config: repo.config, only: BUILD, ...dirs });
    const post = join(repo.dir, 'content/posts/hello-sitepipe.md');
    await writeFile(post, `${await readFile(post, 'utf8')}\nOne more line.\n`);
    const later = '2026-04-01T09:30:00Z';
    await execa('git', ['commit', '-qam', 'one-post edit'], {
      cwd: repo.dir,
      env: {
        GIT_AUTHOR_NAME: 'a',
        GIT_AUTHOR_EMAIL: 'a@b.c',
        GIT_COMMITTER_NAME: 'a',
        GIT_COMMITTER_EMAIL: 'a@b.c',
        GIT_AUTHOR_DATE: later,
        GIT_COMMITTER_DATE: later,
      },
    });
    const second = await runSteps({ config: repo.config, only: BUILD, ...dirs });
    const layersOf = async (digest: string) =>
      JSON.parse((await registry.getManifest(path, digest))?.body.toString() ?? '{}').layers as Array<{
        digest: string;
        size: number;
      }>;
    const before = await layersOf(first.outputs.image?.digest as string);
    const after = await layersOf(second.outputs.image?.digest as string);
    const known = new Set(before.map((l) => l.digest));
    const changed = after.filter((l) => !known.has(l.digest));
    // The previous commit's image (tagged by the test above) is the previous release: its site
    // layers stay, one delta layer holds the changed pages, and the index and server layers are new.
    const config = JSON.parse(
      (
        await registry.getBlob(
          path,
          JSON.parse(
            (await registry.getManifest(path, second.outputs.image?.digest as string))?.body.toString() ??
              '{}',
          ).config.digest,
        )
      ).toString(),
    );
    const names = (config.history as Array<{ created_by?: string; empty_layer?: boolean }>)
      .filter((h) => !h.empty_layer)
      .map((h) => h.created_by ?? '');
    const changedNames = changed.map((l) => names[after.indexOf(l)]);
    expect(changedNames.length).toBeGreaterThan(0);
    expect(changedNames).toEqual([
      'sitepipe: delta layer',
      'sitepipe: index layer',
      'sitepipe: server layer',
    ]);
    expect(names.filter((n) => n.includes('assets-')).length).toBeGreaterThan(0);
    expect(second.outputs.image?.layers).toBe('delta');
    expect(after.length).toBe(before.length + 1);
    const manifest = (await registry.getManifest(path, second.outputs.image?.digest as string))?.body;
    const configSize = JSON.parse(manifest?.toString() ?? '{}').config.size as number;
    expect(second.outputs.image?.uploadedBytes).toBe(changed.reduce((n, l) => n + l.size, 0) + configSize);
  });
});
