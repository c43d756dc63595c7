import { dirname, join, relative, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { lastChangeTimes, repoRoot } from '../clients/git.js';
import { type BlobSource, type Descriptor, MEDIA, type RegistryClient } from '../clients/registry.js';
import { mapLimit } from '../concurrency.js';
import { imageLabels } from '../labels.js';
import { LISTEN_CONF_PATH, listenConf, SERVER_CONF_PATH, SITE_ROOT, serverConf } from '../nginx.js';
import { BlobStore } from '../oci/blob-store.js';
import { type ComposedImage, composeImage, type ImageConfig, type SiteLayer } from '../oci/compose.js';
import { fetchBlob, writeDockerArchive, writeOciLayout } from '../oci/export.js';
import { type PlannedLayer, planSiteLayers } from '../oci/site-layers.js';
import { writeLayer } from '../oci/tar-layer.js';
import type { BuiltImage, RenderResult, SourceInfo, TagPlan } from '../records.js';
import { parseImageRef, parseRepository } from '../reference.js';
import { openRegistry } from '../registries.js';
import type { RunContext } from '../step.js';

/** Blobs uploaded at once: enough to overlap round trips, few enough to share bandwidth sensibly. */
const UPLOAD_CONCURRENCY = 3;
/** Layers built at once: zlib runs on the thread pool, so this uses both cores. */
const BUILD_CONCURRENCY = 2;

export function ociStore(cacheDir: string): BlobStore {
  return new BlobStore(join(cacheDir, 'oci'));
}

/** Reuses a layer built before from the same inputs; otherwise tars and gzips it into the store. */
async function materialize(
  layer: PlannedLayer,
  store: BlobStore,
  target: { client: RegistryClient; path: string },
): Promise<SiteLayer> {
  const known = await store.known(layer.fingerprint);
  if (
    known &&
    ((await store.has(known.digest)) || (await target.client.hasBlob(target.path, known.digest)))
  ) {
    return { name: layer.name, ...known };
  }
  const tmp = await store.tempFile();
  try {
    const blob = await writeLayer(layer.entries, tmp.path, { level: layer.level });
    await tmp.commit(blob.digest);
    await store.remember(layer.fingerprint, blob);
    return { name: layer.name, ...blob };
  } catch (e) {
    await tmp.discard();
    throw e;
  }
}

/**
 * When each static file last changed in git, so a media file keeps its mtime (and its layer
 * its digest) from commit to commit. Without history (a checkout with no .git), every file
 * gets the commit time, which is still reproducible but re-uploads the media.
 */
async function sourceTimes(ctx: RunContext): Promise<(rel: string) => Date | undefined> {
  try {
    const root = await repoRoot(ctx.siteDir, ctx.signal);
    const times = await lastChangeTimes(root, ctx.siteDir, ctx.signal);
    const site = relative(root, ctx.siteDir);
    const inSite = (p: string) => (site ? `${site}/${p}` : p);
    // Hugo copies static/<x> and page bundles' content/<x> to <x> unchanged.
    return (rel) => times.get(inSite(`static/${rel}`)) ?? times.get(inSite(`content/${rel}`));
  } catch {
    ctx.log.warn('no git history here: media files get the commit time, so their layers are uploaded again');
    return () => undefined;
  }
}

/** A blob streamed straight from another registry into the target (no local copy). */
function remoteSource(client: RegistryClient, path: string, digest: string): BlobSource {
  return {
    seekable: false,
    open() {
      const out = new PassThrough();
      client.openBlob(path, digest).then(
        (s) => s.pipe(out),
        (e: Error) => out.destroy(e),
      );
      return out;
    },
  };
}

function bufferSource(data: Buffer): BlobSource {
  return { seekable: false, open: () => Readable.from([data]) };
}

/** The OCI layout and `docker load` tarball, when the config asks for them. */
async function writeOutputs(
  ctx: RunContext,
  store: BlobStore,
  base: { client: RegistryClient; path: string },
  image: ComposedImage,
  tag: TagPlan,
): Promise<void> {
  const { ociLayout, dockerArchive } = ctx.config.image;
  if (!ociLayout && !dockerArchive) return;
  const [config, ...layers] = [image.configDescriptor, ...image.layers];
  for (const layer of layers) await fetchBlob(store, base.client, base.path, layer);
  const local = {
    manifestDigest: image.digest,
    manifest: image.manifest,
    config: config as Descriptor,
    layers,
  };
  const here = dirname(ctx.configPath);
  if (ociLayout) {
    await writeOciLayout(resolve(here, ociLayout), store, local, tag.commitTag);
    ctx.log.info(`wrote OCI layout ${ociLayout} (${tag.commitTag})`);
  }
  if (dockerArchive) {
    await writeDockerArchive(
      resolve(here, dockerArchive),
      store,
      local,
      tag.tags.map((t) => `${tag.repository}:${t}`),
    );
    ctx.log.info(`wrote docker archive ${dockerArchive}`);
  }
}

/**
 * The daemonless path: the base image's manifest plus reproducible site layers, assembled
 * through the registry API. Uploads every blob the registry lacks, then the manifest by
 * digest. No tag is set here: the push step does that after smoke has run this digest.
 */
export async function buildWithOci(
  ctx: RunContext,
  inputs: { source: SourceInfo; tag: TagPlan; render: RenderResult },
): Promise<BuiltImage> {
  const { source, tag, render } = inputs;
  const baseRef = parseImageRef(ctx.config.image.base);
  const targetRef = parseRepository(ctx.config.image.repository);
  const target = await openRegistry(ctx, targetRef.registry);
  const base = baseRef.registry === targetRef.registry ? target : await openRegistry(ctx, baseRef.registry);
  const store = ociStore(ctx.cacheDir);
  const mtime = new Date(source.commitTime);

  const baseImage = await base.client.resolveImage(baseRef.path, baseRef.digest ?? baseRef.tag ?? 'latest');
  const baseConfig = JSON.parse(
    (await base.client.getBlob(baseRef.path, baseImage.manifest.config.digest)).toString('utf8'),
  ) as ImageConfig;
  ctx.log.info(`base ${ctx.config.image.base} is ${baseImage.digest}`);

  const planned = await planSiteLayers({
    outputDir: render.outputDir,
    siteRoot: SITE_ROOT,
    mtime,
    sourceTime: await sourceTimes(ctx),
    extraFiles: [
      { path: SERVER_CONF_PATH, content: Buffer.from(serverConf()) },
      { path: LISTEN_CONF_PATH, content: Buffer.from(listenConf(ctx.config.image.port)) },
    ],
  });
  const layers = await mapLimit(planned, BUILD_CONCURRENCY, (layer) =>
    materialize(layer, store, { client: target.client, path: targetRef.path }),
  );

  const labels = {
    ...imageLabels(source, tag, ctx.config.image.base),
    'org.opencontainers.image.base.digest': baseImage.digest,
  };
  const image = composeImage({
    base: baseImage.manifest,
    baseConfig,
    layers,
    created: source.commitTime,
    labels,
    annotations: {
      'org.opencontainers.image.base.name': ctx.config.image.base,
      'org.opencontainers.image.base.digest': baseImage.digest,
      'org.opencontainers.image.revision': source.commit,
      'org.opencontainers.image.created': source.commitTime,
    },
  });
  await store.put(image.configDescriptor.digest, image.config);
  await store.put(image.digest, image.manifest);

  const siteDigests = new Set(layers.map((l) => l.digest));
  const sameRegistry = base === target;
  const sourceOf = (d: Descriptor): BlobSource => {
    if (d.digest === image.configDescriptor.digest) return bufferSource(image.config);
    if (siteDigests.has(d.digest)) return store.source(d.digest);
    return remoteSource(base.client, baseRef.path, d.digest);
  };
  let uploadedBytes = 0;
  const blobs = [...image.layers, image.configDescriptor];
  await mapLimit(blobs, UPLOAD_CONCURRENCY, async (d) => {
    // Base layers in the same registry are mounted from the base repository: no bytes move.
    const from = sameRegistry && !siteDigests.has(d.digest) ? baseRef.path : undefined;
    const sent = await target.client.pushBlob(targetRef.path, d, sourceOf(d), from);
    uploadedBytes += sent;
  });
  await target.client.putManifest(targetRef.path, image.digest, MEDIA.ociManifest, image.manifest);
  await writeOutputs(ctx, store, { ...base, path: baseRef.path }, image, tag);
  ctx.log.info(
    `uploaded ${(uploadedBytes / 1e6).toFixed(2)} MB; ${layers.map((l) => `${l.name} ${(l.size / 1e6).toFixed(2)} MB`).join(', ')}`,
  );
  return {
    builder: 'oci',
    localRef: `${tag.repository}@${image.digest}`,
    digest: image.digest,
    baseImage: ctx.config.image.base,
    baseDigest: baseImage.digest,
    labels,
    uploadedBytes,
  };
}
