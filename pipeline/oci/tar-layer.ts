import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, createReadStream, createWriteStream, openSync, readSync } from 'node:fs';
import { Transform } from 'node:stream';
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
  /** sha256 (hex) of the content: known beforehand, or filled in by writeLayer as it reads the file. */
  sha256?: string;
}

export interface LayerOptions {
  /** gzip level; fixed per layer kind so the bytes, and so the digest, never vary. */
  level: number;
  /** Checked before each chunk: a big layer takes seconds, an interrupted run must not wait for it. */
  signal?: AbortSignal;
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

/** Output is handed on in chunks of this size: one write per 512-byte block is slow. */
const CHUNK = 1024 * 1024;
/** gzip's output buffer: zlib's 16 KiB default means a callback, a buffer and a hash update per 16 KiB. */
const GZIP_CHUNK = 256 * 1024;

function sizeChanged(entry: LayerEntry): Error {
  return new Error(`${entry.source ?? entry.path} changed size while it was archived`);
}

/** Reads exactly entry.size bytes of the file into `buf` at `off`, or fails if its size changed. */
function readInto(entry: LayerEntry, buf: Buffer, off: number): void {
  const fd = openSync(entry.source as string, 'r');
  try {
    let got = 0;
    while (got < entry.size) {
      const n = readSync(fd, buf, off + got, entry.size - got, got);
      if (n === 0) throw sizeChanged(entry);
      got += n;
    }
    if (readSync(fd, Buffer.alloc(1), 0, 1, got) !== 0) throw sizeChanged(entry);
  } finally {
    closeSync(fd);
  }
}

/**
 * Chunk buffers, given back once gzip has read them. Fresh memory costs a page fault per
 * 4 KiB on first write, which on a VM adds up to tens of ms per layer; a few buffers in turn,
 * shared by every layer of the process, do.
 */
export class ChunkBuffers {
  private readonly free: Buffer[] = [];
  private readonly mine = new WeakSet<ArrayBufferLike>();

  /** A zero-filled CHUNK-sized buffer. */
  take(): Buffer {
    const reused = this.free.pop();
    if (reused) return reused.fill(0);
    const fresh = Buffer.alloc(CHUNK);
    this.mine.add(fresh.buffer);
    return fresh;
  }

  /** Hands back a chunk tarChunks yielded (others are ignored) once nothing reads it any more. */
  give(chunk: Buffer): void {
    if (this.mine.has(chunk.buffer)) this.free.push(Buffer.from(chunk.buffer, 0, CHUNK));
  }
}

const SHARED_BUFFERS = new ChunkBuffers();

/**
 * The tar stream: headers, contents, padding and the two closing zero blocks, in chunks of
 * CHUNK bytes. A site is thousands of small pages: each is read straight into the chunk with
 * synchronous calls (async reads cost several thread-pool round trips per file, shared with
 * gzip, and an extra copy). Files too big for a chunk stream. Each file's sha256 is taken on
 * the way (entry.sha256).
 */
export async function* tarChunks(
  entries: readonly LayerEntry[],
  buffers = new ChunkBuffers(),
): AsyncGenerator<Buffer> {
  // Zero-filled, so padding needs no writes.
  let buf = buffers.take();
  let off = 0;
  const take = () => {
    const chunk = buf.subarray(0, off);
    buf = buffers.take();
    off = 0;
    return chunk;
  };
  const put = (data: Buffer) => {
    data.copy(buf, off);
    off += data.length;
  };
  for (const entry of entries) {
    const headers = headerBlocks(entry);
    const headerSize = headers.reduce((n, h) => n + h.length, 0);
    const body = entry.type === 'dir' ? 0 : entry.size + ((BLOCK - (entry.size % BLOCK)) % BLOCK);
    if (off + headerSize + body > CHUNK && off > 0) yield take();
    if (headerSize + body <= CHUNK) {
      for (const h of headers) put(h);
      if (entry.type === 'dir') continue;
      if (entry.content) {
        if (entry.content.length !== entry.size) throw sizeChanged(entry);
        put(entry.content);
      } else {
        readInto(entry, buf, off);
        off += entry.size;
      }
      entry.sha256 = createHash('sha256')
        .update(buf.subarray(off - entry.size, off))
        .digest('hex');
      off += body - entry.size;
      continue;
    }
    // Bigger than a chunk: headers, then the file streamed as it is read.
    for (const h of headers) put(h);
    yield take();
    const hash = createHash('sha256');
    let written = 0;
    for await (const data of entry.content
      ? [entry.content]
      : createReadStream(entry.source as string, { highWaterMark: CHUNK })) {
      hash.update(data as Buffer);
      written += (data as Buffer).length;
      yield data as Buffer;
    }
    if (written !== entry.size) throw sizeChanged(entry);
    entry.sha256 = hash.digest('hex');
    const pad = body - entry.size;
    if (pad) yield Buffer.alloc(pad);
  }
  if (off + 2 * BLOCK > CHUNK) yield take();
  off += 2 * BLOCK;
  // The last chunk: no fresh buffer after it.
  yield buf.subarray(0, off);
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
 * modes 0644/0755, the entries' own mtimes, no user names. Streams; memory stays flat whatever
 * the size. The next chunk of tar is built while gzip compresses the last one (on the thread pool).
 */
export async function writeLayer(
  entries: readonly LayerEntry[],
  file: string,
  opts: LayerOptions,
): Promise<LayerBlob> {
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let size = 0;
  const gzip = createGzip({ level: opts.level, chunkSize: GZIP_CHUNK });
  const written = pipeline(
    gzip,
    tap(
      gzHash,
      (n) => {
        size += n;
      },
      true,
    ),
    createWriteStream(file),
  );
  const chunks = tarChunks(entries, SHARED_BUFFERS);
  try {
    let next = chunks.next();
    for (let step = await next; !step.done; step = await next) {
      opts.signal?.throwIfAborted();
      const chunk = step.value;
      tarHash.update(chunk);
      const flowing = gzip.write(chunk, () => SHARED_BUFFERS.give(chunk));
      next = chunks.next();
      // Awaited next time round; until then a failure must not count as unhandled.
      next.catch(() => undefined);
      if (!flowing) await once(gzip, 'drain');
    }
    gzip.end();
    await written;
  } catch (e) {
    gzip.destroy(e as Error);
    await written.catch(() => undefined);
    throw e;
  }
  return { digest: `sha256:${gzHash.digest('hex')}`, diffId: `sha256:${tarHash.digest('hex')}`, size };
}
