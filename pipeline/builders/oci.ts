import { dirname, join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { type LastChange, lastChanges, repoRoot, shallowBoundary } from '../clients/git.js';
import { type BlobSource, type Descriptor, MEDIA, type RegistryClient } from '../clients/registry.js';
import { limiter, mapLimit } from '../concurrency.js';
import { SitepipeError } from '../errors.js';
import { imageLabels } from '../labels.js';
import { LISTEN_CONF_PATH, listenConf, SERVER_CONF_PATH, SITE_ROOT, serverConf } from '../nginx.js';
import { BlobStore } from '../oci/blob-store.js';
import { type ComposedImage, composeImage, type ImageConfig, type SiteLayer } from '../oci/compose.js';
import { planDelta } from '../oci/delta.js';
import { fetchBlob, writeDockerArchive, writeOciLayout } from '../oci/export.js';
import { FileHashes, hashMissing } from '../oci/file-hashes.js';
import { encodeIndex, INDEX_LABEL, INDEX_PATH } from '../oci/index-file.js';
import { findPreviousRelease, type PreviousRelease } from '../oci/previous.js';
import {
  fullLayers,
  generatedLayer,
  isAsset,
  layerFingerprint,
  listSiteFiles,
  type PlannedLayer,
  siteDir,
} from '../oci/site-layers.js';
import { type LayerEntry, writeLayer } from '../oci/tar-layer.js';
import { formatBytes, transferProgress } from '../output.js';
import type { BuiltImage, RenderResult, SourceInfo, TagPlan } from '../records.js';
import { parseImageRef, parseRepository } from '../reference.js';
import { openRegistry } from '../registries.js';
import type { RunContext, StepLog } from '../step.js';
import { releaseHeaderValue } from '../verify/release-header.js';

/** Blobs uploaded at once: enough to overlap round trips, few enough to share bandwidth sensibly. */
const UPLOAD_CONCURRENCY = 3;
/** Layers built at once: zlib runs on the thread pool, so this uses both cores. */
const BUILD_CONCURRENCY = 2;

export function ociStore(cacheDir: string): BlobStore {
  return new BlobStore(join(cacheDir, 'oci'));
}

/** A layer built before from the same inputs, still in the store or the target registry. */
async function builtBefore(
  layer: PlannedLayer,
  store: BlobStore,
  target: { client: RegistryClient; path: string },
): Promise<SiteLayer | null> {
  const fingerprint = layerFingerprint(layer);
  const known = fingerprint ? await store.known(fingerprint) : null;
  if (!known) return null;
  const present = (await store.has(known.digest)) || (await target.client.hasBlob(target.path, known.digest));
  return present ? { name: layer.name, ...known } : null;
}

/** Tars and gzips a layer into the store, learning its files' hashes as it reads them, and remembers it. */
async function build(layer: PlannedLayer, store: BlobStore, signal: AbortSignal): Promise<SiteLayer> {
  const tmp = await store.tempFile();
  try {
    const blob = await writeLayer(layer.entries, tmp.path, { level: layer.level, signal });
    await tmp.commit(blob.digest);
    await store.remember(layerFingerprint(layer) as string, blob);
    return { name: layer.name, ...blob };
  } catch (e) {
    await tmp.discard();
    throw e;
  }
}

/**
 * When each media file's source last changed in git, so it keeps its mtime (and its layer its
 * digest) from commit to commit. Without history (a checkout with no .git), or with
 * `image.mediaTimes: commit`, every file gets the commit time: still reproducible, but the
 * media is uploaded again. A shallow clone knows no time before its boundary commits (git
 * shows every file as added there), so a media file last changed there fails the build rather
 * than get a time, and a digest, that no full clone gives.
 */
async function sourceTimes(ctx: RunContext): Promise<(rel: string) => Date | undefined> {
  if (ctx.config.image.mediaTimes === 'commit') return () => undefined;
  try {
    await repoRoot(ctx.siteDir, ctx.signal);
  } catch {
    ctx.log.warn('no git history here: media files get the commit time, so their layers are uploaded again');
    return () => undefined;
  }
  const [changes, boundary] = await Promise.all([
    lastChanges(ctx.siteDir, ctx.signal),
    shallowBoundary(ctx.siteDir, ctx.signal),
  ]);
  return (rel) => {
    // Hugo copies static/<x> and page bundles' content/<x> to <x> unchanged.
    const path = [`static/${rel}`, `content/${rel}`].find((p) => changes.has(p));
    const change = path === undefined ? undefined : (changes.get(path) as LastChange);
    if (change && boundary.has(change.commit)) {
      throw new SitepipeError(
        'SHALLOW_CLONE',
        `${path} last changed at or before ${change.commit.slice(0, 12)}, where this shallow clone's history stops, so when is unknown (and the image would not match a full clone's)`,
        'fetch the history (`git fetch --unshallow`, or clone with a --depth that reaches the last change to every media file), or set image.mediaTimes: commit to give all media the commit time in every clone',
      );
    }
    return change?.time;
  };
}

/** A blob streamed straight from another registry into the target (no local copy). */
export function remoteSource(client: RegistryClient, path: string, digest: string): BlobSource {
  return {
    seekable: false,
    open() {
      const out = new PassThrough();
      // pipe() does not pass a source's error on: without this, a cut stream would leave the
      // upload waiting for its idle timeout.
      client.openBlob(path, digest).then(
        (s) => s.once('error', (e) => out.destroy(e)).pipe(out),
        (e: Error) => out.destroy(e),
      );
      return out;
    },
  };
}

function bufferSource(data: Buffer): BlobSource {
  return { seekable: false, open: () => Readable.from([data]) };
}

/**
 * The OCI layout and `docker load` tarball, when the config asks for them. Every blob comes
 * from the store; one missing there (an emptied cache) is fetched from where it lives: base
 * layers from the base repository, site layers from the target, which has them by now.
 */
async function writeOutputs(
  ctx: RunContext,
  store: BlobStore,
  from: { base: { client: RegistryClient; path: string }; target: { client: RegistryClient; path: string } },
  image: ComposedImage,
  tag: TagPlan,
  baseLayers: number,
): Promise<void> {
  const { ociLayout, dockerArchive } = ctx.config.image;
  if (!ociLayout && !dockerArchive) return;
  const [config, ...layers] = [image.configDescriptor, ...image.layers];
  for (const [i, layer] of layers.entries()) {
    const { client, path } = i < baseLayers ? from.base : from.target;
    await fetchBlob(store, client, path, layer);
  }
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

/** The base image's manifest, digest and config, resolved from its tag once per run. */
async function resolveBase(client: RegistryClient, ref: ReturnType<typeof parseImageRef>) {
  const image = await client.resolveImage(ref.path, ref.digest ?? ref.tag ?? 'latest');
  const config = JSON.parse(
    (await client.getBlob(ref.path, image.manifest.config.digest)).toString('utf8'),
  ) as ImageConfig;
  return { ...image, config };
}

/**
 * Blob uploads, at most UPLOAD_CONCURRENCY at a time, each started as soon as its blob exists:
 * base layers while Hugo renders, site layers as each is built.
 */
function blobUploads(client: RegistryClient, path: string, log: StepLog) {
  const limit = limiter(UPLOAD_CONCURRENCY);
  const started: Promise<number>[] = [];
  const since = Date.now();
  let bytes = 0;
  let finished = 0;
  const show = (what: string) =>
    log.progress?.(
      transferProgress(`${what}, ${finished}/${started.length} blobs`, bytes, Date.now() - since),
    );
  return {
    push(blob: Descriptor, source: BlobSource, from?: string, name = blob.digest.slice(7, 19)): void {
      const sent = limit(async () => {
        show(`sending ${name}`);
        const n = await client.pushBlob(path, blob, source, from);
        bytes += n;
        finished++;
        show(`sent ${name}`);
        return n;
      });
      // Collected by done(); a failure must not go unhandled while the build goes on.
      sent.catch(() => undefined);
      started.push(sent);
    },
    /** Bytes sent in all, once every upload is done; the first failure otherwise. */
    async done(): Promise<number> {
      return (await Promise.all(started)).reduce((a, b) => a + b, 0);
    },
  };
}

/** Biggest first, so the last layer to finish is a small one and both cores stay busy. */
function biggestFirst(layers: readonly PlannedLayer[]): PlannedLayer[] {
  const size = (l: PlannedLayer) => l.entries.reduce((n, e) => n + e.size, 0);
  return [...layers].sort((a, b) => size(b) - size(a));
}

/**
 * The planned layers as blobs, in order, each uploaded as soon as it exists: what was built
 * before is known from fingerprints alone; only the rest is tarred and gzipped.
 */
async function materialize(
  planned: readonly PlannedLayer[],
  store: BlobStore,
  target: { client: RegistryClient; path: string },
  uploads: ReturnType<typeof blobUploads>,
  signal: AbortSignal,
): Promise<SiteLayer[]> {
  const upload = (site: SiteLayer) =>
    uploads.push(
      { mediaType: MEDIA.ociLayerGzip, digest: site.digest, size: site.size },
      store.source(site.digest),
      undefined,
      site.name,
    );
  const reused = await Promise.all(planned.map((layer) => builtBefore(layer, store, target)));
  for (const site of reused) if (site) upload(site);
  const built = new Map<PlannedLayer, SiteLayer>();
  await mapLimit(biggestFirst(planned.filter((_, i) => !reused[i])), BUILD_CONCURRENCY, async (layer) => {
    const site = await build(layer, store, signal);
    built.set(layer, site);
    upload(site);
  });
  return planned.map((l, i) => reused[i] ?? (built.get(l) as SiteLayer));
}

/** Full layers, a delta over the previous release, or its layers as they are (README.md, "Layers"). */
interface SiteLayout {
  kind: 'full' | 'delta' | 'unchanged';
  /** The previous release's site layers kept under the new ones. */
  kept: readonly SiteLayer[];
  planned: PlannedLayer[];
  deltas: number;
  shadowed: number;
}

/**
 * Lays the rendered files out over the previous release, if any: every file is hashed and
 * compared with its index (planDelta), and what changed goes in one delta layer on its layers,
 * until the limits call for full layers again, which keep the files' times all the same.
 */
function layOut(
  ctx: RunContext,
  dir: string,
  files: LayerEntry[],
  previous: PreviousRelease | null,
  mtime: Date,
): SiteLayout {
  const full = (): SiteLayout => ({
    kind: 'full',
    kept: [],
    planned: fullLayers(SITE_ROOT, dir, files),
    deltas: 0,
    shadowed: 0,
  });
  if (!previous) return full();
  hashMissing(files);
  const { maxLayers, maxWaste } = ctx.config.image.delta;
  const plan = planDelta({
    siteRoot: SITE_ROOT,
    dir,
    files,
    previous: previous.index,
    mtime,
    limits: { maxLayers, maxWaste },
  });
  const what = `${plan.changed} file(s) added or changed, ${plan.removed} removed since ${previous.tag}`;
  const { index } = previous;
  switch (plan.kind) {
    case 'unchanged':
      ctx.log.info(`no file changed since ${previous.tag}: its layers as they are`);
      return {
        kind: 'unchanged',
        kept: index.layers,
        planned: [],
        deltas: index.deltas,
        shadowed: index.shadowed,
      };
    case 'delta':
      ctx.log.info(`${what}: one delta layer on its ${index.layers.length} site layers`);
      return {
        kind: 'delta',
        kept: index.layers,
        planned: [plan.layer],
        deltas: index.deltas + 1,
        shadowed: plan.shadowed,
      };
    case 'full':
      ctx.log.info(`${what}; full layers again: ${plan.why}`);
      return full();
  }
}

/** Whether this build may layer on the previous release: image.delta.enabled, unless SITEPIPE_FULL_LAYERS=1. */
function deltaEnabled(ctx: RunContext): boolean {
  return ctx.config.image.delta.enabled && ctx.env.SITEPIPE_FULL_LAYERS !== '1';
}

/**
 * The daemonless path: the base image's manifest plus reproducible site layers, assembled
 * through the registry API: full layers, or the previous release's plus a delta. Uploads every
 * blob the registry lacks, then the manifest by digest. No tag is set here: the push step does
 * that after smoke has run this digest. Everything that does not need the rendered site
 * (registry sign-in, the base image, the previous release, git history) happens while Hugo
 * still renders.
 */
export async function buildWithOci(
  ctx: RunContext,
  inputs: { source: SourceInfo; tag: TagPlan },
  rendered: Promise<RenderResult>,
): Promise<BuiltImage> {
  const { source, tag } = inputs;
  const baseRef = parseImageRef(ctx.config.image.base);
  const targetRef = parseRepository(ctx.config.image.repository);
  const store = ociStore(ctx.cacheDir);
  const mtime = new Date(source.commitTime);

  const registries = async () => {
    const target = await openRegistry(ctx, targetRef.registry);
    const base = baseRef.registry === targetRef.registry ? target : await openRegistry(ctx, baseRef.registry);
    const [baseImage, previous] = await Promise.all([
      resolveBase(base.client, baseRef),
      deltaEnabled(ctx)
        ? findPreviousRelease({
            client: target.client,
            path: targetRef.path,
            repository: tag.repository,
            commit: source.commit,
            commitLength: ctx.config.tags.commitLength,
            branchTag: tag.branchTag,
            cwd: ctx.siteDir,
            note: (m) => ctx.log.info(`previous release: ${m}`),
          })
        : null,
    ]);
    return { target, base, baseImage, previous };
  };
  const [{ target, base, baseImage, previous }, hashes] = await Promise.all([
    registries(),
    FileHashes.load(join(ctx.stateDir, 'file-hashes.json')),
    store.prune(),
  ]);
  ctx.log.info(`base ${ctx.config.image.base} is ${baseImage.digest}`);
  if (previous) ctx.log.info(`previous release ${tag.repository}:${previous.tag} (${previous.digest})`);
  // With a previous release, unchanged files keep its times: git history is not needed.
  const sourceTime = previous ? undefined : await sourceTimes(ctx);
  const uploads = blobUploads(target.client, targetRef.path, ctx.log);
  // Base layers in the same registry are mounted from the base repository: no bytes move.
  const from = base === target ? baseRef.path : undefined;
  for (const d of baseImage.manifest.layers)
    uploads.push(d, remoteSource(base.client, baseRef.path, d.digest), from);
  const render = await rendered;

  const dir = siteDir(SITE_ROOT, render.basePath);
  const files = listSiteFiles({
    outputDir: render.outputDir,
    siteRoot: SITE_ROOT,
    basePath: render.basePath,
    mtime,
    ...(sourceTime ? { sourceTime } : {}),
    hashes,
  });
  const layout = layOut(ctx, dir, files, previous, mtime);
  const targetAt = { client: target.client, path: targetRef.path };
  const siteLayers = [
    ...layout.kept,
    ...(await materialize(layout.planned, store, targetAt, uploads, ctx.signal)),
  ];
  await hashes.save(files.filter((f) => isAsset(f.path)));

  // The index (every file's hash now known) and the server config, on top.
  const indexFile = encodeIndex({
    repository: tag.repository,
    dir,
    layers: siteLayers,
    deltas: layout.deltas,
    shadowed: layout.shadowed,
    files,
  });
  // The index layer's time is its newest file's: a commit that changes no file keeps its digest.
  const newest = new Date(files.reduce((t, f) => Math.max(t, f.mtime.getTime()), 0));
  const top = [
    generatedLayer('index', [{ path: INDEX_PATH, content: indexFile }], newest),
    generatedLayer(
      'server',
      [
        {
          path: SERVER_CONF_PATH,
          content: Buffer.from(serverConf(render.basePath, releaseHeaderValue(ctx.config, tag.commitTag))),
        },
        { path: LISTEN_CONF_PATH, content: Buffer.from(listenConf(ctx.config.image.port)) },
      ],
      mtime,
    ),
  ].filter((l): l is PlannedLayer => l !== null);
  const [indexLayer, ...rest] = await materialize(top, store, targetAt, uploads, ctx.signal);
  const layers = [...siteLayers, indexLayer as SiteLayer, ...rest];

  const labels = {
    ...imageLabels(source, tag, ctx.config.image.base),
    'org.opencontainers.image.base.digest': baseImage.digest,
    [INDEX_LABEL]: (indexLayer as SiteLayer).digest,
  };
  const image = composeImage({
    base: baseImage.manifest,
    baseConfig: baseImage.config,
    layers,
    created: source.commitTime,
    port: ctx.config.image.port,
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

  uploads.push(image.configDescriptor, bufferSource(image.config));
  const uploadedBytes = await uploads.done();
  await target.client.putManifest(targetRef.path, image.digest, MEDIA.ociManifest, image.manifest);
  await writeOutputs(
    ctx,
    store,
    {
      base: { client: base.client, path: baseRef.path },
      target: { client: target.client, path: targetRef.path },
    },
    image,
    tag,
    baseImage.manifest.layers.length,
  );
  ctx.log.info(
    `sent ${formatBytes(uploadedBytes)} (only blobs the registry lacked); ${layout.kind} layers: ${layers.map((l) => `${l.name} ${(l.size / 1e6).toFixed(2)} MB`).join(', ')}`,
  );
  return {
    commit: source.commit,
    builder: 'oci',
    localRef: `${tag.repository}@${image.digest}`,
    digest: image.digest,
    baseImage: ctx.config.image.base,
    baseDigest: baseImage.digest,
    labels,
    uploadedBytes,
    layers: layout.kind,
    previous: previous ? `${tag.repository}@${previous.digest}` : null,
  };
}
