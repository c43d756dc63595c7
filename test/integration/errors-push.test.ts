import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MEDIA, RegistryClient, sha256Digest } from '../../pipeline/clients/registry.js';
import type { BuiltImage, SmokeResult, TagPlan } from '../../pipeline/records.js';
import { push } from '../../steps/push.js';
import { testContext } from '../helpers/context.js';
import { expectCode } from '../helpers/expect-code.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { SETUP_REGISTRY } from '../helpers/registry.js';

const COMMIT = randomBytes(20).toString('hex');

/** An image with no layers and sitepipe's labels, in the registry by digest only. */
async function uploadImage(host: string, path: string): Promise<string> {
  const client = new RegistryClient(host, null);
  const labels = { 'org.opencontainers.image.revision': COMMIT };
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: labels } }),
  );
  const configDesc = { mediaType: MEDIA.ociConfig, digest: sha256Digest(config), size: config.length };
  await client.pushBlob(path, configDesc, { open: () => Readable.from([config]), seekable: false });
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: configDesc, layers: [] }),
  );
  return client.putManifest(path, sha256Digest(manifest), MEDIA.ociManifest, manifest);
}

let proxy: FaultProxy | undefined;
afterEach(() => proxy?.close());

describe('push that fails half-way', () => {
  it('says which tags were set, not "nothing was tagged"', async () => {
    const path = `errors-push-${randomBytes(4).toString('hex')}/website`;
    const digest = await uploadImage(SETUP_REGISTRY, path);
    proxy = await startFaultProxy(SETUP_REGISTRY, [
      { match: (m, u) => m === 'PUT' && u.endsWith('/manifests/main'), fault: 'status503', times: 1000 },
    ]);
    const repository = `${proxy.host}/${path}`;
    const ctx = testContext({
      siteDir: '/nonexistent',
      configYaml: `hugo: { version: 0.111.3 }\nimage: { repository: ${repository} }\nregistry: { credentials: none }\n`,
    });
    const commitTag = COMMIT.slice(0, 12);
    const tag: TagPlan = {
      commit: COMMIT,
      repository,
      tags: [commitTag, 'main'],
      commitTag,
      branchTag: 'main',
    };
    const image: BuiltImage = {
      commit: COMMIT,
      builder: 'oci',
      localRef: `${repository}@${digest}`,
      digest,
      baseImage: 'nginx',
      baseDigest: null,
      labels: {},
      uploadedBytes: 0,
    };
    const smoke: SmokeResult = {
      commit: COMMIT,
      image: image.localRef,
      tested: true,
      pages: 1,
      checked: ['/'],
    };
    const e = await expectCode(push.run(ctx, { tag, image, smoke }, {} as never), 'REGISTRY_ERROR');
    expect(e.message).toContain(`${repository}:${commitTag} was set already, ${repository}:main not`);
    expect(e.hint).not.toMatch(/nothing was tagged/);
    expect(e.hint).toContain('running push again sets the tags still missing');
  });
});
