import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { filesUnder } from '../paths.js';
import type { FileHashes } from './file-hashes.js';
import type { LayerEntry } from './tar-layer.js';

/**
 * How the site is cut into full layers (README.md, "Layers"; with a previous release, a delta
 * layer goes on its layers instead, see delta.ts, until they are compacted back into these):
 * - `assets-N`: media that is large and rarely changes (images, fonts, video, archives),
 *   spread over BUCKETS layers by a hash of the path; each file keeps its time (from the
 *   previous release, else when its source last changed in git), so an unchanged image keeps
 *   its bytes from commit to commit;
 * - `pages-N`: everything else (pages, feeds, CSS, the sitemap), in buckets of even size: equal
 *   buckets let them gzip on every core with no one big layer left to finish last;
 * - on top, generated files: `index` (the release index) and `server` (sitepipe's nginx config).
 */
export const BUCKETS = 4;

const ASSET_EXTENSIONS = new Set(
  'png jpg jpeg gif webp avif ico bmp tif tiff heic woff woff2 ttf otf eot mp4 webm mov mp3 ogg wav m4a pdf zip gz br wasm'
    .split(' ')
    .map((e) => `.${e}`),
);

/** gzip levels: pages are text and shrink a lot; media is compressed already, so spend little on it. */
export const PAGE_LEVEL = 6;
export const ASSET_LEVEL = 1;

/** Bumped whenever the bytes a layer is made of would change for the same input. */
const LAYER_FORMAT = 3;

export interface PlannedLayer {
  name: string;
  level: number;
  entries: LayerEntry[];
  /** Media: its files' hashes are kept between builds (FileHashes). */
  media: boolean;
}

export function isAsset(path: string): boolean {
  return ASSET_EXTENSIONS.has(extname(path).toLowerCase());
}

export function bucketOf(path: string): number {
  return (createHash('sha256').update(path).digest()[0] as number) % BUCKETS;
}

/** Every directory on the way from `root` down to each file, parents first; a directory takes its newest file's time. */
export function withDirectories(root: string, files: readonly LayerEntry[]): LayerEntry[] {
  const dirs = new Map<string, Date>();
  for (const f of files) {
    for (
      let d = f.path.slice(0, f.path.lastIndexOf('/'));
      d.length >= root.length;
      d = d.slice(0, d.lastIndexOf('/'))
    ) {
      const seen = dirs.get(d);
      if (!seen || seen < f.mtime) dirs.set(d, f.mtime);
      if (d.length === root.length) break;
    }
  }
  const all = [
    ...files,
    ...[...dirs].map(([path, mtime]): LayerEntry => ({ path, type: 'dir', size: 0, mtime })),
  ];
  return all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Identifies a layer's exact bytes before they are made (format, level, paths, times and
 * content hashes), or null while a file's hash is unknown: such a layer is built, which
 * hashes its files, and fingerprinted then.
 */
export function layerFingerprint(layer: PlannedLayer): string | null {
  if (layer.entries.some((e) => e.type === 'file' && !e.sha256)) return null;
  const hash = createHash('sha256').update(JSON.stringify([LAYER_FORMAT, layer.name, layer.level]));
  for (const e of layer.entries) {
    hash.update(`\n${e.type} ${e.size} ${Math.floor(e.mtime.getTime() / 1000)} ${e.sha256 ?? ''} ${e.path}`);
  }
  return hash.digest('hex');
}

function plan(
  name: string,
  level: number,
  root: string,
  files: LayerEntry[],
  media = false,
): PlannedLayer | null {
  return files.length === 0 ? null : { name, level, entries: withDirectories(root, files), media };
}

/**
 * Pages in BUCKETS layers of about the same size, biggest file first into the lightest bucket
 * (ties by path, so the same output always splits the same way). Pages change mtime on every
 * commit, so which layer a page lands in never saves an upload; even sizes let the layers gzip
 * side by side and finish together.
 */
function evenBuckets(files: LayerEntry[]): LayerEntry[][] {
  const buckets = Array.from({ length: BUCKETS }, () => ({ bytes: 0, files: [] as LayerEntry[] }));
  const order = [...files].sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1));
  for (const file of order) {
    const lightest = buckets.reduce((min, b) => (b.bytes < min.bytes ? b : min));
    lightest.files.push(file);
    lightest.bytes += file.size;
  }
  return buckets.map((b) => b.files.sort((x, y) => (x.path < y.path ? -1 : 1)));
}

/** Where the site's files go in the image: the site root plus the base path, without slashes at either end. */
export function siteDir(siteRoot: string, basePath = '/'): string {
  return [trimSlashes(siteRoot), trimSlashes(basePath)].filter(Boolean).join('/');
}

/**
 * The rendered files as layer entries under `siteDir(siteRoot, basePath)`, in byte order. Pages
 * carry `mtime` (the commit time); media the time `sourceTime` gives (when its source last
 * changed), else `mtime`. Media hashes come from `hashes` when its files are unchanged.
 */
export function listSiteFiles(opts: {
  outputDir: string;
  siteRoot: string;
  basePath?: string;
  mtime: Date;
  sourceTime?: (rel: string) => Date | undefined;
  hashes?: FileHashes;
}): LayerEntry[] {
  const dir = siteDir(opts.siteRoot, opts.basePath);
  // One synchronous stat per file: thousands of them, each a few µs (async, each is a thread-pool round trip).
  return filesUnder(opts.outputDir)
    .sort()
    .map((rel) => {
      const source = join(opts.outputDir, rel);
      const info = statSync(source, { bigint: true });
      const size = Number(info.size);
      const asset = isAsset(rel);
      const mtime = (asset && opts.sourceTime?.(rel)) || opts.mtime;
      const entry: LayerEntry = { path: `${dir}/${rel}`, type: 'file', size, source, mtime };
      if (asset) entry.sha256 = opts.hashes?.lookup(source, size, info.mtimeNs);
      return entry;
    });
}

/** The full layout: media in hash buckets, everything else in buckets of even size (see the top of this file). */
export function fullLayers(siteRoot: string, dir: string, files: readonly LayerEntry[]): PlannedLayer[] {
  const root = trimSlashes(siteRoot);
  const assets = Array.from({ length: BUCKETS }, () => [] as LayerEntry[]);
  const text: LayerEntry[] = [];
  for (const entry of files) {
    if (isAsset(entry.path)) assets[bucketOf(entry.path.slice(dir.length + 1))]?.push(entry);
    else text.push(entry);
  }
  const layers = [
    ...assets.map((list, i) => plan(`assets-${i}`, ASSET_LEVEL, root, list, true)),
    ...evenBuckets(text).map((list, i) => plan(`pages-${i}`, PAGE_LEVEL, root, list)),
  ];
  return layers.filter((l): l is PlannedLayer => l !== null);
}

/** A layer of generated files (server config, the release index) with their image paths, all at `mtime`. */
export function generatedLayer(
  name: string,
  files: ReadonlyArray<{ path: string; content: Buffer }>,
  mtime: Date,
): PlannedLayer | null {
  const entries = files.map(
    (f): LayerEntry => ({
      path: f.path.replace(/^\/+/, ''),
      type: 'file',
      size: f.content.length,
      content: f.content,
      sha256: createHash('sha256').update(f.content).digest('hex'),
      mtime,
    }),
  );
  return plan(name, PAGE_LEVEL, commonDir(entries.map((f) => f.path)), entries);
}

/**
 * Plans the site's layers from the rendered output dir; `siteRoot` is where nginx serves
 * from in the image, the site's files go under it at `basePath` (the URL path the site lives
 * under, "/" by default), and `extraFiles` are generated files (server config) with their image
 * paths, in a `server` layer on top. See listSiteFiles for the times and hashes.
 */
export function planSiteLayers(
  opts: Parameters<typeof listSiteFiles>[0] & {
    extraFiles: ReadonlyArray<{ path: string; content: Buffer }>;
  },
): PlannedLayer[] {
  const server = generatedLayer('server', opts.extraFiles, opts.mtime);
  const dir = siteDir(opts.siteRoot, opts.basePath);
  return [...fullLayers(opts.siteRoot, dir, listSiteFiles(opts)), ...(server ? [server] : [])];
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

/** The deepest directory holding all of `paths`, e.g. etc/nginx for etc/nginx/conf.d/x and etc/nginx/y/z. */
function commonDir(paths: readonly string[]): string {
  const [first = ''] = paths;
  let dir = first.slice(0, first.lastIndexOf('/'));
  while (dir && !paths.every((p) => p.startsWith(`${dir}/`)))
    dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/')));
  return dir;
}
