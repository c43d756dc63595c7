import { gunzipSync } from 'node:zlib';
import { Header } from 'tar';
import { z } from 'zod';
import type { SiteLayer } from './compose.js';
import type { LayerEntry } from './tar-layer.js';

/**
 * The release index: every site file of an image (size, mode, mtime, sha256), what its site
 * layers are, and how many of them are deltas. It is what the next build diffs against, so it
 * travels with the image: a file outside the web root (nginx serves only the site root) in a
 * layer of its own, named by a config label. Being a layer, registries keep it as long as the
 * image (garbage collection, `skopeo copy` and mirrors carry it along); being its own layer,
 * it is read without pulling the site, and a commit that changes no file keeps its digest.
 */
export const INDEX_PATH = 'etc/sitepipe/index.json';
/** Config label: the digest of the layer holding INDEX_PATH. */
export const INDEX_LABEL = 'io.sitepipe.index';
const FORMAT = 1;
const FILE_MODE = 0o644;

const layerSchema = z.object({ name: z.string(), digest: z.string(), diffId: z.string(), size: z.number() });
const indexSchema = z.object({
  format: z.literal(FORMAT),
  /** The repository the image was built for: an index from another site's image is not used. */
  repository: z.string(),
  /** Where the site's files are in the image (site root plus base path). */
  dir: z.string(),
  /** The site layers under the index layer, bottom first: the next delta goes on top of these. */
  layers: z.array(layerSchema),
  /** How many of `layers` are delta layers (0 after full layers). */
  deltas: z.number().int(),
  /** Bytes of files in `layers` hidden by later layers (changed or removed since). */
  shadowed: z.number().int(),
  /** [path under dir, size, mode, mtime (unix seconds), sha256 hex], in byte order of path. */
  files: z.array(z.tuple([z.string(), z.number().int(), z.number().int(), z.number().int(), z.string()])),
});

export type ReleaseIndex = z.infer<typeof indexSchema>;

export interface IndexedFile {
  size: number;
  mtime: Date;
  sha256: string;
}

/** The index of `files` (entries under `dir`, hashes known), as stored: the same input gives the same bytes. */
export function encodeIndex(opts: {
  repository: string;
  dir: string;
  layers: readonly SiteLayer[];
  deltas: number;
  shadowed: number;
  files: readonly LayerEntry[];
}): Buffer {
  const files = opts.files.map((e) => {
    if (!e.sha256) throw new Error(`no hash for ${e.path}`);
    return [
      e.path.slice(opts.dir.length + 1),
      e.size,
      FILE_MODE,
      Math.floor(e.mtime.getTime() / 1000),
      e.sha256,
    ];
  });
  const layers = opts.layers.map(({ name, digest, diffId, size }) => ({ name, digest, diffId, size }));
  return Buffer.from(
    JSON.stringify({
      format: FORMAT,
      repository: opts.repository,
      dir: opts.dir,
      layers,
      deltas: opts.deltas,
      shadowed: opts.shadowed,
      files,
    }),
  );
}

/** The files of an index by path under its dir. */
export function indexedFiles(index: ReleaseIndex): Map<string, IndexedFile> {
  return new Map(
    index.files.map(([path, size, , mtime, sha256]) => [
      path,
      { size, mtime: new Date(mtime * 1000), sha256 },
    ]),
  );
}

/** The index in a gzipped layer blob, or null when the layer has none or it does not parse. */
export function indexFromLayer(blob: Buffer): ReleaseIndex | null {
  let tar: Buffer;
  try {
    tar = gunzipSync(blob);
  } catch {
    return null;
  }
  for (let off = 0; off + 512 <= tar.length; ) {
    const header = new Header(tar, off);
    if (!header.path || header.nullBlock) break;
    const size = header.size ?? 0;
    const body = off + 512;
    if (header.type === 'File' && header.path === INDEX_PATH) {
      try {
        const parsed = indexSchema.safeParse(JSON.parse(tar.subarray(body, body + size).toString('utf8')));
        return parsed.success ? parsed.data : null;
      } catch {
        return null;
      }
    }
    off = body + Math.ceil(size / 512) * 512;
  }
  return null;
}
