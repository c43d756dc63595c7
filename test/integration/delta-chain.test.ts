import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../pipeline/clients/registry.js';
import { SITE_ROOT } from '../../pipeline/nginx.js';
import { isAsset } from '../../pipeline/oci/site-layers.js';
import { filesUnder } from '../../pipeline/paths.js';
import type { Outputs } from '../../pipeline/records.js';
import { hugoBuildArgs } from '../../steps/render.js';
import { get, serveOnLoopback } from '../helpers/nginx-container.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { exampleConfig, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';

const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];
const SITE = SITE_ROOT.slice(1);
const STYLESHEET = 'css/syntax.css';
const ORIGIN = 'https://git.example.com/site.git';

/** path -> bytes of every file under `dir`. */
async function tree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const rel of filesUnder(dir).sort()) out.set(rel, await readFile(join(dir, rel)));
  return out;
}

/** The served tree must be Hugo's plain render of the commit (plus the Pygments stylesheet), file by file. */
function expectSameTree(got: Map<string, Buffer>, want: Map<string, Buffer>): void {
  expect(got.get(STYLESHEET)?.length).toBeGreaterThan(0);
  const paths = [...got.keys()].filter((p) => p !== STYLESHEET);
  expect(paths).toEqual([...want.keys()].filter((p) => p !== STYLESHEET));
  for (const p of paths) expect(got.get(p)?.equals(want.get(p) as Buffer), p).toBe(true);
}

describe('delta layers over the previous release (real registry, hugo, git, docker, skopeo, umoci, nginx)', () => {
  let repo: SiteRepo;
  let work: string;
  const id = randomBytes(4).toString('hex');
  const path = `delta-${id}/website`;
  const repository = `${SETUP_REGISTRY}/${path}`;
  const registry = new RegistryClient(SETUP_REGISTRY, null);
  /** Last-Modified and ETag of each file as nginx served it at the previous step. */
  let served = new Map<string, { body: Buffer; lastModified: string; etag: string }>();
  const digests: string[] = [];
  const dirs = { stateDir: '', cacheDir: '' };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'sitepipe-delta-'));
    dirs.stateDir = join(work, 'state');
    dirs.cacheDir = join(work, 'cache');
    repo = await exampleRepo({ configYaml: await exampleConfig(repository) });
    await repo.git('remote', 'add', 'origin', ORIGIN);
    // Two more configs of the same site, each to its own repository, for the compaction limits.
    const quick = ['smoke: { enabled: false }'];
    await writeFile(
      join(repo.dir, 'sitepipe-max1.yaml'),
      await exampleConfig(`${repository}-max1`, { image: ['delta: { maxLayers: 1 }'], sections: quick }),
    );
    await writeFile(
      join(repo.dir, 'sitepipe-waste0.yaml'),
      await exampleConfig(`${repository}-waste0`, { image: ['delta: { maxWaste: 0 }'], sections: quick }),
    );
    // Media as real sites have it, so that what an edit shadows stays under maxWaste.
    await commit('2026-03-01T13:00:00Z', 'configs', {
      'static/downloads': 'v1\n',
      'static/files/manual.pdf': randomBytes(400_000),
    });
  });
  afterAll(async () => {
    // The images pulled into the engine along the chain.
    await execa('docker', ['rmi', '-f', ...digests.map((d) => `${repository}@${d}`)], { reject: false });
    await repo?.remove();
    await rm(work, { recursive: true, force: true });
  });

  /** Writes (or, for null, deletes) site files and commits them at `date`. */
  async function commit(
    date: string,
    message: string,
    files: Record<string, string | Buffer | null>,
  ): Promise<void> {
    for (const [rel, text] of Object.entries(files)) {
      const file = join(repo.dir, rel);
      if (text === null) await unlink(file);
      else {
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, text);
      }
    }
    const who = {
      GIT_AUTHOR_NAME: 'a',
      GIT_AUTHOR_EMAIL: 'a@b.c',
      GIT_COMMITTER_NAME: 'a',
      GIT_COMMITTER_EMAIL: 'a@b.c',
    };
    await execa('git', ['add', '-A'], { cwd: repo.dir });
    await execa('git', ['commit', '-qm', message], {
      cwd: repo.dir,
      env: { ...who, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date },
    });
  }

  const layersOf = async (digest: string) =>
    (
      JSON.parse((await registry.getManifest(path, digest))?.body.toString() ?? '{}').layers as Array<{
        digest: string;
      }>
    ).map((l) => l.digest);

  async function plainRender(outputs: Partial<Outputs>): Promise<Map<string, Buffer>> {
    const out = join(work, `plain-${digests.length}`);
    await execa(
      outputs.hugo?.path as string,
      hugoBuildArgs(repo.dir, out, {
        cacheDir: join(work, 'hugo-cache'),
        baseURL: outputs.render?.baseURL as string,
      }),
    );
    return tree(out);
  }

  /** The image as Docker has it after a pull (layers applied by the engine, whiteouts included). */
  async function dockerTree(ref: string): Promise<Map<string, Buffer>> {
    await execa('docker', ['pull', '-q', ref]);
    const { stdout: cid } = await execa('docker', ['create', ref]);
    const out = join(work, `docker-${digests.length}`);
    await mkdir(out);
    try {
      await execa('bash', [
        '-c',
        'docker export "$1" | tar -x -C "$2" "$3" etc/sitepipe',
        'x',
        cid,
        out,
        SITE,
      ]);
    } finally {
      await execa('docker', ['rm', cid]);
    }
    expect((await readFile(join(out, 'etc/sitepipe/index.json'))).length).toBeGreaterThan(0);
    return tree(join(out, SITE));
  }

  /** The image as skopeo copies it and umoci unpacks it: another implementation of layers and whiteouts. */
  async function skopeoTree(ref: string): Promise<Map<string, Buffer>> {
    const layout = join(work, `layout-${digests.length}`);
    await execa('skopeo', [
      'copy',
      '--quiet',
      '--src-tls-verify=false',
      `docker://${ref}`,
      `oci:${layout}:x`,
    ]);
    await execa('umoci', ['raw', 'unpack', '--image', `${layout}:x`, `${layout}-rootfs`]);
    return tree(join(`${layout}-rootfs`, SITE));
  }

  /**
   * Builds, smoke-tests and pushes the current commit; checks the image file by file against a
   * plain Hugo render (through Docker and skopeo+umoci) and what nginx serves: every file's bytes,
   * unchanged ones with the Last-Modified and ETag of the step before, changed ones at `date`.
   */
  async function release(date: string) {
    const { outputs } = await runSteps({ config: repo.config, ...dirs });
    const digest = outputs.push?.digest as string;
    expect(outputs.smoke?.tested).toBe(true);
    const ref = `${repository}@${digest}`;
    const want = await plainRender(outputs);
    expectSameTree(await dockerTree(ref), want);
    expectSameTree(await skopeoTree(ref), want);

    const server = await serveOnLoopback(ref);
    const now = new Map<string, { body: Buffer; lastModified: string; etag: string }>();
    try {
      for (const [rel, body] of want) {
        const reply = await get(`${server.base}/${rel}`);
        expect(reply.status, rel).toBe(200);
        expect(reply.body.equals(body), rel).toBe(true);
        const file = {
          body,
          lastModified: String(reply.headers['last-modified']),
          etag: String(reply.headers.etag),
        };
        now.set(rel, file);
        const before = served.get(rel);
        // The first release's media carries when its source last changed in git (full layers, as before).
        if (rel === STYLESHEET || (served.size === 0 && isAsset(rel))) continue;
        if (before?.body.equals(body)) {
          expect([rel, file.lastModified, file.etag]).toEqual([rel, before.lastModified, before.etag]);
        } else expect([rel, file.lastModified]).toEqual([rel, new Date(date).toUTCString()]);
      }
      // Removed files are gone (a path that is a directory now is nginx's redirect to it, not checked).
      const gone = [...served.keys()].filter(
        (rel) => !want.has(rel) && ![...want.keys()].some((w) => w.startsWith(`${rel}/`)),
      );
      for (const rel of gone) expect([rel, (await get(`${server.base}/${rel}`)).status]).toEqual([rel, 404]);
    } finally {
      await server.stop();
    }
    served = now;
    digests.push(digest);
    return outputs;
  }

  /** Build and push with one of the compaction configs: what layout it chose. */
  const limited = async (name: string) => {
    const config = join(repo.dir, `sitepipe-${name}.yaml`);
    const state = { stateDir: join(work, `state-${name}`), cacheDir: join(work, `cache-${name}`) };
    return (await runSteps({ config, only: [...BUILD, 'smoke', 'push'], ...state })).outputs.image?.layers;
  };

  it('first release: full layers', async () => {
    const outputs = await release('2026-03-01T13:00:00Z');
    expect(outputs.image?.layers).toBe('full');
    expect(outputs.image?.previous).toBeNull();
    expect(await limited('max1')).toBe('full');
    expect(await limited('waste0')).toBe('full');
  });

  it('an edit, a deleted post, a renamed image: one delta layer, the same digest in another clone and cache', async () => {
    await commit('2026-03-02T10:00:00Z', 'edit, delete, rename', {
      'content/posts/hello-sitepipe.md': `${await readFile(join(repo.dir, 'content/posts/hello-sitepipe.md'), 'utf8')}\nOne more line.\n`,
      'content/posts/field-notes.md': null,
      'static/images/forest.png': null,
      'static/images/woods.png': await readFile(join(repo.dir, 'static/images/forest.png'), 'latin1'),
    });
    const outputs = await release('2026-03-02T10:00:00Z');
    expect(outputs.image?.layers).toBe('delta');
    expect(outputs.image?.previous).toBe(`${repository}@${digests[0]}`);
    const [before, after] = [await layersOf(digests[0] as string), await layersOf(digests[1] as string)];
    // The previous release's layers but its index and server layers, then delta, index, server.
    expect(after.slice(0, before.length - 2)).toEqual(before.slice(0, -2));
    expect(after).toHaveLength(before.length + 1);

    const clone = join(work, 'clone');
    await execa('git', ['clone', '-q', repo.dir, clone]);
    // The source label names the remote: the same one in both, as two clones of one repository have.
    await execa('git', ['remote', 'set-url', 'origin', ORIGIN], { cwd: clone });
    const again = await runSteps({
      config: join(clone, 'sitepipe.yaml'),
      only: BUILD,
      stateDir: join(work, 'clone-state'),
      cacheDir: join(work, 'clone-cache'),
    });
    expect(again.outputs.image?.digest).toBe(digests[1]);
    expect(await limited('max1')).toBe('delta');
    expect(await limited('waste0')).toBe('full');
  });

  it('a commit that changes no output: no new site layer, the same index; a shallow clone gives the same digest', async () => {
    await commit('2026-03-03T10:00:00Z', 'readme', { 'README.md': 'About this site.\n' });
    const shallow = join(work, 'shallow');
    await execa('git', ['clone', '-q', '--depth', '1', `file://${repo.dir}`, shallow]);
    await execa('git', ['remote', 'set-url', 'origin', ORIGIN], { cwd: shallow });
    const fromShallow = await runSteps({
      config: join(shallow, 'sitepipe.yaml'),
      only: BUILD,
      stateDir: join(work, 'shallow-state'),
      cacheDir: join(work, 'shallow-cache'),
    });
    const outputs = await release('2026-03-03T10:00:00Z');
    expect(fromShallow.outputs.image?.digest).toBe(digests[2]);
    expect(outputs.image?.layers).toBe('unchanged');
    const [before, after] = [await layersOf(digests[1] as string), await layersOf(digests[2] as string)];
    // Only the server layer (it names the release in a header) is new.
    expect(after.slice(0, -1)).toEqual(before.slice(0, -1));
    expect(after.at(-1)).not.toBe(before.at(-1));
    expect(outputs.image?.uploadedBytes).toBeLessThan(8_000);
    expect(await limited('max1')).toBe('unchanged');
    expect(await limited('waste0')).toBe('unchanged');
  });

  it('a file replaced by a directory and a directory by a file; compaction at maxLayers', async () => {
    await commit('2026-03-04T10:00:00Z', 'types change', {
      'static/downloads': null,
      'static/downloads/index.html': '<p>downloads</p>\n',
      'content/about.md': null,
      'static/about': 'about, as a plain file\n',
    });
    const outputs = await release('2026-03-04T10:00:00Z');
    expect(outputs.image?.layers).toBe('delta');
    expect(await layersOf(digests[3] as string)).toHaveLength(
      (await layersOf(digests[2] as string)).length + 1,
    );
    expect(await limited('max1')).toBe('full');
    expect(await limited('waste0')).toBe('full');
  });
});
