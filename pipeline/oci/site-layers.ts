import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { globby } from 'globby';
import { mapLimit } from '../concurrency.js';
import type { LayerEntry } from './tar-layer.js';

/**
 * How the site is cut into layers, so that an edit re-uploads little:
 * - `assets-N`: media that is large and rarely changes (images, fonts, video, archives),
 *   spread over ASSET_BUCKETS layers by a hash of the path, so adding one image
 *   re-uploads one bucket, not every image;
 * - `pages`: everything else (HTML, feeds, sitemap, CSS, JS): small, compresses well,
 *   and a one-post edit touches many of these files at once (lists, tags, feeds);
 * - `server`: sitepipe's nginx config.
 * README.md ("Layers") has the measurements behind this choice.
 */
export const ASSET_BUCKETS = 4;

const ASSET_EXTENSIONS = new Set(
  'png jpg jpeg gif webp avif ico bmp tif tiff heic woff woff2 ttf otf eot mp4 webm mov mp3 ogg wav m4a pdf zip gz br wasm'
    .split(' ')
    .map((e) => `.${e}`),
);

/** gzip levels: pages are text and shrink a lot; media is compressed already, so spend little on it. */
export const PAGE_LEVEL = 6;
export const ASSET_LEVEL = 1;

/** Bumped whenever the bytes a layer is made of would change for the same input. */
const LAYER_FORMAT = 1;

export interface PlannedLayer {
  name: string;
  level: number;
  entries: LayerEntry[];
  /** Identifies the layer's exact bytes before they are made: format, mtime, level, paths and content hashes. */
  fingerprint: string;
}

export function isAsset(path: string): boolean {
  return ASSET_EXTENSIONS.has(extname(path).toLowerCase());
}

export function assetBucket(path: string): number {
  return (createHash('sha256').update(path).digest()[0] as number) % ASSET_BUCKETS;
}

/** Every directory on the way from `root` down to each file, parents first. */
function withDirectories(root: string, files: readonly LayerEntry[]): LayerEntry[] {
  const dirs = new Set<string>([root]);
  for (const f of files) {
    for (
      let d = f.path.slice(0, f.path.lastIndexOf('/'));
      d.length > root.length;
      d = d.slice(0, d.lastIndexOf('/'))
    ) {
      dirs.add(d);
    }
  }
  const all = [...files, ...[...dirs].map((path): LayerEntry => ({ path, type: 'dir', size: 0 }))];
  return all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function contentHash(entry: LayerEntry): Promise<string> {
  const hash = createHash('sha256');
  if (entry.content) hash.update(entry.content);
  else if (entry.source)
    for await (const chunk of createReadStream(entry.source)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function fingerprint(
  name: string,
  level: number,
  mtime: Date,
  entries: readonly LayerEntry[],
): Promise<string> {
  const hashes = await mapLimit(entries, 16, (e) =>
    e.type === 'dir' ? Promise.resolve('') : contentHash(e),
  );
  const hash = createHash('sha256').update(JSON.stringify([LAYER_FORMAT, name, level, mtime.toISOString()]));
  entries.forEach((e, i) => {
    hash.update(`\n${e.type} ${e.size} ${hashes[i]} ${e.path}`);
  });
  return hash.digest('hex');
}

async function plan(
  name: string,
  level: number,
  mtime: Date,
  root: string,
  files: LayerEntry[],
): Promise<PlannedLayer> {
  const entries = withDirectories(root, files);
  return { name, level, entries, fingerprint: await fingerprint(name, level, mtime, entries) };
}

/**
 * Plans the site's layers from the rendered output dir; `siteRoot` is where nginx serves
 * from in the image and `extraFiles` are generated files (server config) with their image paths.
 */
export async function planSiteLayers(opts: {
  outputDir: string;
  siteRoot: string;
  mtime: Date;
  extraFiles: ReadonlyArray<{ path: string; content: Buffer }>;
}): Promise<PlannedLayer[]> {
  const root = opts.siteRoot.replace(/^\/+|\/+$/g, '');
  const paths = await globby('**/*', {
    cwd: opts.outputDir,
    dot: true,
    onlyFiles: true,
    followSymbolicLinks: false,
  });
  const files = await mapLimit(paths, 32, async (rel): Promise<LayerEntry> => {
    const source = join(opts.outputDir, rel);
    return { path: `${root}/${rel}`, type: 'file', size: (await stat(source)).size, source };
  });
  const buckets = Array.from({ length: ASSET_BUCKETS }, () => [] as LayerEntry[]);
  const pages: LayerEntry[] = [];
  for (const f of files) {
    if (isAsset(f.path)) buckets[assetBucket(f.path)]?.push(f);
    else pages.push(f);
  }
  const server = opts.extraFiles.map(
    (f): LayerEntry => ({
      path: f.path.replace(/^\/+/, ''),
      type: 'file',
      size: f.content.length,
      content: f.content,
    }),
  );
  const serverRoot = commonDir(server.map((f) => f.path));
  const layers = await Promise.all([
    ...buckets.map((b, i) => (b.length ? plan(`assets-${i}`, ASSET_LEVEL, opts.mtime, root, b) : null)),
    plan('pages', PAGE_LEVEL, opts.mtime, root, pages),
    server.length ? plan('server', PAGE_LEVEL, opts.mtime, serverRoot, server) : null,
  ]);
  return layers.filter((l): l is PlannedLayer => l !== null);
}

/** The deepest directory holding all of `paths`, e.g. etc/nginx for etc/nginx/conf.d/x and etc/nginx/y/z. */
function commonDir(paths: readonly string[]): string {
  const [first = ''] = paths;
  let dir = first.slice(0, first.lastIndexOf('/'));
  while (dir && !paths.every((p) => p.startsWith(`${dir}/`)))
    dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/')));
  return dir;
}
