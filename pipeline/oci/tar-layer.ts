import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { Header, Pax } from 'tar';

/** One entry of a layer, already normalised: no leading slash, dirs end without one. */
export interface LayerEntry {
  path: string;
  type: 'file' | 'dir';
  size: number;
  /** Whole seconds; the site planner sets it (the commit time, or when a media file last changed). */
  mtime: Date;
  /** The bytes come from this file … */
  source?: string;
  /** … or from here (small generated files, e.g. nginx config). */
  content?: Buffer;
}

export interface LayerOptions {
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

function headerBlocks(entry: LayerEntry): Buffer[] {
  const path = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const header = new Header({
    path,
    mode: entry.type === 'dir' ? DIR_MODE : FILE_MODE,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    size: entry.type === 'dir' ? 0 : entry.size,
    mtime: entry.mtime,
    type: entry.type === 'dir' ? 'Directory' : 'File',
  });
  header.encode();
  const block = header.block as Buffer;
  // Paths too long for ustar's name+prefix fields go in a PAX record first.
  return header.needPax ? [new Pax({ path }).encode(), block] : [block];
}

/** Files up to this size are read whole; larger ones stream. */
const READ_WHOLE = 1024 * 1024;
/** Output is handed on in chunks of about this size: one write per 512-byte block is slow. */
const CHUNK = 1024 * 1024;

async function* entryBlocks(entry: LayerEntry): AsyncGenerator<Buffer> {
  yield* headerBlocks(entry);
  if (entry.type === 'dir') return;
  let written = 0;
  if (entry.content) {
    written = entry.content.length;
    yield entry.content;
  } else if (entry.source && entry.size <= READ_WHOLE) {
    const data = await readFile(entry.source);
    written = data.length;
    yield data;
  } else if (entry.source) {
    for await (const chunk of createReadStream(entry.source, { highWaterMark: READ_WHOLE })) {
      written += (chunk as Buffer).length;
      yield chunk as Buffer;
    }
  }
  if (written !== entry.size)
    throw new Error(`${entry.source ?? entry.path} changed size while it was archived`);
  const pad = (BLOCK - (written % BLOCK)) % BLOCK;
  if (pad) yield Buffer.alloc(pad);
}

/** The tar stream: headers, contents, padding and the two closing zero blocks, in ~1 MiB chunks. */
export async function* tarChunks(entries: readonly LayerEntry[]): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let size = 0;
  for (const entry of entries) {
    for await (const block of entryBlocks(entry)) {
      pending.push(block);
      size += block.length;
      if (size >= CHUNK) {
        yield Buffer.concat(pending, size);
        pending = [];
        size = 0;
      }
    }
  }
  pending.push(Buffer.alloc(2 * BLOCK));
  yield Buffer.concat(pending);
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
 * modes 0644/0755, the entries' own mtimes, no user names. Streams; memory stays flat whatever the size.
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
    Readable.from(tarChunks(entries)),
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
