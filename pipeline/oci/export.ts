import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Descriptor, MEDIA, type RegistryClient } from '../clients/registry.js';
import { SitepipeError } from '../errors.js';
import type { BlobStore } from './blob-store.js';
import { type LayerEntry, tarChunks } from './tar-layer.js';

export interface LocalImage {
  manifestDigest: string;
  manifest: Buffer;
  config: Descriptor;
  layers: readonly Descriptor[];
}

/** Copies a blob from the registry into the store (once), checking its digest on the way. */
export async function fetchBlob(
  store: BlobStore,
  client: RegistryClient,
  path: string,
  blob: Descriptor,
): Promise<void> {
  if (await store.has(blob.digest)) return;
  const tmp = await store.tempFile();
  const hash = createHash('sha256');
  try {
    const body = await client.openBlob(path, blob.digest);
    await pipeline(
      body,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(tmp.path),
    );
    if (`sha256:${hash.digest('hex')}` !== blob.digest) {
      throw new SitepipeError(
        'REGISTRY_BAD_CONTENT',
        `blob ${blob.digest} does not match its digest`,
        'retry',
      );
    }
    await tmp.commit(blob.digest);
  } catch (e) {
    await tmp.discard();
    throw e;
  }
}

/** An OCI image layout directory (oci-layout, index.json, blobs/), tagged with `refName`. */
export async function writeOciLayout(
  dir: string,
  store: BlobStore,
  image: LocalImage,
  refName: string,
): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const d of [image.config, ...image.layers, { digest: image.manifestDigest }]) {
    const target = join(dir, 'blobs', 'sha256', d.digest.slice('sha256:'.length));
    if (!(await stat(target).catch(() => null))) await copyFile(store.blobPath(d.digest), target);
  }
  await writeFile(join(dir, 'oci-layout'), `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: [
      {
        mediaType: MEDIA.ociManifest,
        digest: image.manifestDigest,
        size: image.manifest.length,
        annotations: { 'org.opencontainers.image.ref.name': refName },
      },
    ],
  };
  await writeFile(join(dir, 'index.json.tmp'), JSON.stringify(index));
  await rename(join(dir, 'index.json.tmp'), join(dir, 'index.json'));
}

/** A `docker load` tarball: manifest.json naming the config and layer blobs, and the blobs. */
export async function writeDockerArchive(
  file: string,
  store: BlobStore,
  image: LocalImage,
  repoTags: string[],
): Promise<void> {
  const blobPath = (d: Descriptor) => `blobs/sha256/${d.digest.slice('sha256:'.length)}`;
  const manifest = Buffer.from(
    JSON.stringify([
      { Config: blobPath(image.config), RepoTags: repoTags, Layers: image.layers.map(blobPath) },
    ]),
  );
  const blobs = [image.config, ...image.layers].filter(
    (d, i, all) => all.findIndex((x) => x.digest === d.digest) === i,
  );
  const mtime = new Date(0);
  const entries: LayerEntry[] = [
    { path: 'blobs', type: 'dir', size: 0, mtime },
    { path: 'blobs/sha256', type: 'dir', size: 0, mtime },
    ...blobs.map(
      (d): LayerEntry => ({
        path: blobPath(d),
        type: 'file',
        size: d.size,
        source: store.blobPath(d.digest),
        mtime,
      }),
    ),
    { path: 'manifest.json', type: 'file', size: manifest.length, content: manifest, mtime },
  ];
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp`;
  try {
    await pipeline(Readable.from(tarChunks(entries)), createWriteStream(tmp));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
