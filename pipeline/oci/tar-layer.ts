import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Header, Pax } from 'tar';

/** One entry of a layer, already normalised: no leading slash, dirs end without one. */
export interface LayerEntry {
  path: string;
  type: 'file' | 'dir';
  size: number;
  /** The bytes come from this file … */
  source?: string;
  /** … or from here (small generated files, e.g. nginx config). */
  content?: Buffer;
}

export interface LayerOptions {
  /** Every entry's mtime: the commit time, so nginx's Last-Modified means something. */
  mtime: Date;
  /** gzip level; fixed per layer kind so the bytes, and so the digest, never vary. */
  level: number;
}

export interface LayerBlob {
  /** sha256 of the gzip stream: the blob's name in the registry. */
  digest: string;
  /** sha256 of the uncompressed tar: the image config's rootfs.diff_ids entry. */
  diffId: string;
  size: number;
}

const BLOCK = 512;
const FILE_MODE = 0o644;
const DIR_MODE = 0o755;
/** Go's gzip writes 255 ("unknown") as the OS byte; so do we, whatever zlib was built for. */
const GZIP_OS_OFFSET = 9;
const GZIP_OS_UNKNOWN = 0xff;

function headerBlocks(entry: LayerEntry, mtime: Date): Buffer[] {
  const path = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const header = new Header({
    path,
    mode: entry.type === 'dir' ? DIR_MODE : FILE_MODE,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: entry.type === 'dir' ? 0 : entry.size,
    mtime,
    type: entry.type === 'dir' ? 'Directory' : 'File',
  });
  header.encode();
  const block = header.block as Buffer;
  // Paths too long for ustar's name+prefix fields go in a PAX record first.
  return header.needPax ? [new Pax({ path }).encode(), block] : [block];
}

/** The tar stream: headers, contents, padding and the two closing zero blocks. */
export async function* tarChunks(entries: readonly LayerEntry[], mtime: Date): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield* headerBlocks(entry, mtime);
    if (entry.type === 'dir') continue;
    let written = 0;
    if (entry.content) {
      written = entry.content.length;
      yield entry.content;
    } else if (entry.source) {
      for await (const chunk of createReadStream(entry.source, { highWaterMark: 1024 * 1024 })) {
        written += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
    }
    if (written !== entry.size)
      throw new Error(`${entry.source ?? entry.path} changed size while it was archived`);
    const pad = (BLOCK - (written % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** Passes bytes through while hashing and counting them. */
function tap(
  hash: ReturnType<typeof createHash>,
  onCount: (n: number) => void,
  patchGzipOs = false,
): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let out = chunk;
      if (patchGzipOs && seen <= GZIP_OS_OFFSET && seen + chunk.length > GZIP_OS_OFFSET) {
        out = Buffer.from(chunk);
        out[GZIP_OS_OFFSET - seen] = GZIP_OS_UNKNOWN;
      }
      seen += out.length;
      hash.update(out);
      onCount(out.length);
      done(null, out);
    },
  });
}

/**
 * Writes a reproducible gzip'd tar layer to `file`: entries in the given order, uid/gid 0,
 * modes 0644/0755, one mtime, no user names. Streams; memory stays flat whatever the size.
 */
export async function writeLayer(
  entries: readonly LayerEntry[],
  file: string,
  opts: LayerOptions,
): Promise<LayerBlob> {
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let size = 0;
  await pipeline(
    Readable.from(tarChunks(entries, opts.mtime)),
    tap(tarHash, () => undefined),
    createGzip({ level: opts.level }),
    tap(
      gzHash,
      (n) => {
        size += n;
      },
      true,
    ),
    createWriteStream(file),
  );
  return { digest: `sha256:${gzHash.digest('hex')}`, diffId: `sha256:${tarHash.digest('hex')}`, size };
}
