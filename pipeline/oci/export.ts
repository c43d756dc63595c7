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

/** Writes a file through a temp name and a rename: a killed run leaves no half file under the final name. */
async function atomically(target: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    await write(tmp);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * An OCI image layout directory (oci-layout, index.json, blobs/), tagged with `refName`. A
 * blob already there is kept only when it has its full size (an older sitepipe, killed while
 * copying, could leave one cut short under its digest name).
 */
export async function writeOciLayout(
  dir: string,
  store: BlobStore,
  image: LocalImage,
  refName: string,
): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const manifest = { digest: image.manifestDigest, size: image.manifest.length };
  for (const d of [image.config, ...image.layers, manifest]) {
    const target = join(dir, 'blobs', 'sha256', d.digest.slice('sha256:'.length));
    if ((await stat(target).catch(() => null))?.size === d.size) continue;
    await atomically(target, (tmp) => copyFile(store.blobPath(d.digest), tmp));
  }
  await atomically(join(dir, 'oci-layout'), (tmp) =>
    writeFile(tmp, `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}\n`),
  );
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
  await atomically(join(dir, 'index.json'), (tmp) => writeFile(tmp, JSON.stringify(index)));
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
  await atomically(file, (tmp) => pipeline(Readable.from(tarChunks(entries)), createWriteStream(tmp)));
}
