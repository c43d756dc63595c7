import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../steps/smoke.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { EXAMPLE_DIR, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

describe('oci builder outputs for machines without a registry at hand', () => {
  let repo: SiteRepo;
  let out: string;
  let port: number;
  const repository = `${SETUP_REGISTRY}/outputs-${randomBytes(4).toString('hex')}/website`;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'sitepipe-out-'));
    port = await freePort();
    const example = await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8');
    const configYaml = example
      .replace(
        /repository: .*/,
        `repository: ${repository}\n  port: ${port}\n  ociLayout: ${out}/layout\n  dockerArchive: ${out}/image.tar`,
      )
      .replace(/credentials: .*/, 'credentials: none');
    repo = await exampleRepo({ configYaml });
  });
  afterAll(() => repo?.remove());

  it('writes an OCI layout and a docker-load tarball of the same image', async () => {
    const { outputs } = await runSteps({
      config: repo.config,
      only: ['source', 'tag', 'hugo', 'pygments', 'render', 'image'],
      cacheDir: join(out, 'cache'),
    });
    const digest = outputs.image?.digest as string;
    const commitTag = outputs.tag?.commitTag as string;

    const index = JSON.parse(await readFile(join(out, 'layout', 'index.json'), 'utf8'));
    expect(index.manifests[0].digest).toBe(digest);
    const { stdout } = await execa('skopeo', ['inspect', `oci:${out}/layout:${commitTag}`]);
    expect(JSON.parse(stdout).Digest).toBe(digest);

    const loaded = await execa('docker', ['load', '-i', join(out, 'image.tar')]);
    expect(loaded.stdout).toContain(`${repository}:${commitTag}`);
    const { stdout: id } = await execa('docker', [
      'run',
      '-d',
      '--network',
      'host',
      `${repository}:${commitTag}`,
    ]);
    try {
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${port}/posts/hello-sitepipe/`).then(
          (r) => r.status,
          () => 0,
        );
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).toBe(200);
      const res = await fetch(`http://127.0.0.1:${port}/index.xml`);
      // Every file carries the commit time, so Last-Modified means something.
      expect(res.headers.get('last-modified')).toBe('Sun, 01 Mar 2026 12:00:00 GMT');
    } finally {
      await execa('docker', ['rm', '-f', id.trim()]);
      await execa('docker', ['rmi', ...(outputs.tag?.tags ?? []).map((t) => `${repository}:${t}`)]);
    }
  });

  it('repairs a layout blob a killed run cut short, and exports with the blob store emptied', async () => {
    const build = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];
    const cacheDir = join(out, 'cache-2');
    await runSteps({ config: repo.config, only: build, cacheDir });
    // A kill while a blob was copied left it cut short under its digest name.
    const blobs = join(out, 'layout', 'blobs', 'sha256');
    const sizes = await Promise.all(
      (await readdir(blobs)).map(async (n) => ({ n, size: (await stat(join(blobs, n))).size })),
    );
    const biggest = sizes.sort((a, b) => b.size - a.size)[0]?.n as string;
    await truncate(join(blobs, biggest), 1000);
    // The store keeps what each layer was built into, but its blobs are gone: they come from the registry.
    await rm(join(cacheDir, 'oci', 'blobs'), { recursive: true, force: true });
    const { outputs } = await runSteps({ config: repo.config, only: build, cacheDir });
    // skopeo checks every blob against its digest as it copies.
    await execa('skopeo', [
      'copy',
      `oci:${out}/layout:${outputs.tag?.commitTag}`,
      `dir:${await mkdtemp(join(tmpdir(), 'sitepipe-copy-'))}`,
    ]);
  });
});
