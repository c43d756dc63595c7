import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHUNKED_UPLOAD_ABOVE, RegistryClient } from '../../pipeline/clients/registry.js';
import type { SitepipeError } from '../../pipeline/errors.js';
import { type FaultProxy, type FaultRule, startFaultProxy } from '../helpers/fault-proxy.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';
import { runSteps } from '../helpers/run.js';
import { EXAMPLE_DIR, exampleRepo, type SiteRepo } from '../helpers/site-repo.js';
import { tempDir } from '../helpers/temp.js';

const BUILD = ['source', 'tag', 'hugo', 'pygments', 'render', 'image'];
const isUpload = (m: string, u: string) => (m === 'PUT' || m === 'PATCH') && u.includes('/blobs/uploads/');
const isManifestPut = (m: string, u: string) => m === 'PUT' && u.includes('/manifests/');

/** A site repo building `repository` on `base`, with anonymous registry access and a short idle timeout. */
async function repoWith(repository: string, base: string): Promise<SiteRepo> {
  const example = await readFile(join(EXAMPLE_DIR, 'sitepipe.yaml'), 'utf8');
  const configYaml = example
    .replace(/repository: .*/, `repository: ${repository}`)
    .replace(/base: .*/, `base: ${base}`)
    .replace(/credentials: .*/, 'credentials: none\n  timeoutSeconds: 2');
  return exampleRepo({ configYaml });
}

/** A site repo whose image and base both go through `proxy` (so base layers are mounted, site layers uploaded). */
function repoBehind(proxy: FaultProxy, path: string): Promise<SiteRepo> {
  return repoWith(`${proxy.host}/${path}`, `${proxy.host}/library/nginx:stable`);
}

async function tagsOf(path: string): Promise<string[]> {
  const res = await fetch(`http://${SETUP_REGISTRY}/v2/${path}/tags/list`);
  return res.status === 404 ? [] : (((await res.json()) as { tags: string[] | null }).tags ?? []);
}

describe('pushing through a faulty network (fault-injecting proxy in front of the real registry)', () => {
  let proxy: FaultProxy;
  let repo: SiteRepo;
  const path = `faults-${randomBytes(4).toString('hex')}/website`;

  afterEach(async () => {
    await proxy?.close();
    await repo?.remove();
  });

  it('completes through resets, 503s, 429s and a stall, with the same digest', async () => {
    const rules: FaultRule[] = [
      { match: isUpload, fault: 'reset', times: 2 },
      { match: (m, u) => m === 'HEAD' && u.includes('/blobs/'), fault: 'status503', times: 2 },
      { match: (m, u) => m === 'POST' && u.includes('/blobs/uploads/'), fault: 'status429', times: 1 },
      { match: isManifestPut, fault: 'stall', times: 1 },
    ];
    proxy = await startFaultProxy(SETUP_REGISTRY, rules);
    repo = await repoBehind(proxy, path);
    const cacheDir = await tempDir('sitepipe-cache-');
    const { outputs } = await runSteps({ config: repo.config, only: BUILD, cacheDir });
    expect(rules.every((r) => r.times === 0)).toBe(true);
    const manifest = await new RegistryClient(SETUP_REGISTRY, null).getManifest(
      path,
      outputs.image?.digest as string,
    );
    expect(manifest?.digest).toBe(outputs.image?.digest);
    // A clean rebuild from scratch (no cache) makes the very same image, and finds every blob in place.
    const clean = await runSteps({
      config: repo.config,
      only: BUILD,
      cacheDir: await tempDir('sitepipe-c-'),
    });
    expect(clean.outputs.image?.digest).toBe(outputs.image?.digest);
    expect(clean.outputs.image?.uploadedBytes).toBe(0);
  });

  it('a registry that keeps failing ends in a clear error and no tag; a rerun re-uploads nothing', async () => {
    proxy = await startFaultProxy(SETUP_REGISTRY, [
      { match: isManifestPut, fault: 'status503', times: 1000 },
    ]);
    repo = await repoBehind(proxy, `${path}-broken`);
    const cacheDir = await tempDir('sitepipe-cache-');
    const err = (await runSteps({ config: repo.config, cacheDir }).catch((e) => e)) as SitepipeError;
    expect(err.code).toBe('REGISTRY_ERROR');
    expect(err.message).toMatch(/kept failing \(last: HTTP 503\) after 5 attempts/);
    expect(err.hint).toMatch(/nothing was tagged/);
    expect(await tagsOf(`${path}-broken`)).toEqual([]);

    proxy.rules.length = 0;
    const { outputs } = await runSteps({ config: repo.config, cacheDir });
    expect(outputs.image?.uploadedBytes).toBe(0);
    expect((await tagsOf(`${path}-broken`)).sort()).toEqual(outputs.push?.tags.slice().sort());
  });

  it('streams a base layer from another registry through blob redirects and a cut, with the same digest', async () => {
    const base = await new RegistryClient(SETUP_REGISTRY, null).resolveImage('library/nginx', 'stable');
    const [layer] = base.manifest.layers;
    const toStorage = (digest: string) => (m: string, u: string) =>
      m === 'GET' && u.startsWith('/storage/') && u.endsWith(digest);
    // The base is read through the proxy, whose blob GETs all redirect to its storage host; the
    // image goes straight to the registry under another name, so the base layer is streamed
    // from one "registry" into the other (no mount), and the stream is cut midway.
    const rules: FaultRule[] = [
      {
        match: (m, u) => m === 'GET' && u.startsWith('/v2/') && u.includes('/blobs/'),
        fault: 'redirect',
        times: 1000,
      },
      { match: toStorage(base.manifest.config.digest), fault: 'cut', times: 1 },
      { match: toStorage(layer?.digest as string), fault: 'cut', times: 1 },
    ];
    proxy = await startFaultProxy(SETUP_REGISTRY, rules);
    const target = `${path}-streamed`;
    repo = await repoWith(`${SETUP_REGISTRY}/${target}`, `${proxy.host}/library/nginx:stable`);
    const cacheDir = await tempDir('sitepipe-cache-');
    const { outputs } = await runSteps({ config: repo.config, only: BUILD, cacheDir });
    expect(rules.map((r) => r.times)).toEqual([expect.any(Number), 0, 0]);
    const resumed = proxy.requests.filter(
      (r) => r.listener === 'storage' && r.url.endsWith(layer?.digest as string),
    );
    expect(resumed.map((r) => r.outcome)).toEqual(['cut', 'forwarded']);
    expect(resumed[1]?.headers.range).toMatch(/^bytes=[1-9]\d*-$/);
    // The registry checked the streamed layer against its digest when the upload finished.
    expect(await new RegistryClient(SETUP_REGISTRY, null).hasBlob(target, layer?.digest as string)).toBe(
      true,
    );

    proxy.rules.length = 0;
    const clean = await runSteps({
      config: repo.config,
      only: BUILD,
      cacheDir: await tempDir('sitepipe-c-'),
    });
    expect(clean.outputs.image?.digest).toBe(outputs.image?.digest);
  });

  it('uploads a large blob in chunks and resumes where a reset cut it off', async () => {
    const size = CHUNKED_UPLOAD_ABOVE + 3 * 1024 * 1024;
    const dir = await tempDir('sitepipe-big-');
    const file = join(dir, 'blob');
    const data = randomBytes(size);
    await writeFile(file, data);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    let patches = 0;
    // The third chunk's connection drops: the first two are in the registry already.
    proxy = await startFaultProxy(SETUP_REGISTRY, [
      {
        match: (m, u) => m === 'PATCH' && u.includes('/blobs/uploads/') && ++patches === 3,
        fault: 'reset',
        times: 1,
      },
    ]);
    const client = new RegistryClient(proxy.host, null);
    const source = {
      seekable: true,
      open: (range?: { start: number; end: number }) => createReadStream(file, range),
    };
    const sent = await client.pushBlob(
      `${path}-big`,
      { mediaType: 'application/octet-stream', digest, size },
      source,
    );
    expect(sent).toBe(size);
    const log = proxy.log.map((l) => `${l.split(' ')[0]} ${l.split(' ').pop()}`);
    // One upload session; after the reset it asks how far it got (GET) and sends the rest.
    expect(log.filter((l) => l.startsWith('POST'))).toHaveLength(1);
    expect(log.filter((l) => l.startsWith('PATCH'))).toEqual([
      'PATCH forwarded',
      'PATCH forwarded',
      'PATCH reset',
      'PATCH forwarded',
      'PATCH forwarded',
      'PATCH forwarded',
    ]);
    expect(log).toContain('GET forwarded');
    expect(await client.hasBlob(`${path}-big`, digest)).toBe(true);
  });
});
