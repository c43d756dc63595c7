import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { globby } from 'globby';
import { Header } from 'tar';
import { LISTEN_CONF_PATH, listenConf, SERVER_CONF_PATH, SITE_ROOT, serverConf } from '../pipeline/nginx.js';
import { type PlannedLayer, planSiteLayers } from '../pipeline/oci/site-layers.js';
import { type LayerEntry, tarChunks, writeLayer } from '../pipeline/oci/tar-layer.js';

/**
 * Re-does, piece by piece and timed, what the daemonless image step does with a rendered
 * output dir: list and stat the files, hash them (layer fingerprints), tar+gzip the pages
 * layer (and one asset bucket), with the same functions the builder calls, in this process.
 * Also times one alternative for the pages layer: the same tar bytes read and handed to gzip
 * in ~1 MiB batches (small files read whole), and checks that it gives the same digest.
 */

export interface ImageProfile {
  files: number;
  listMs: number;
  planMs: number;
  hashOnlyMs: number;
  layers: Array<{ name: string; files: number; bytes: number }>;
  pages: {
    tarBytes: number;
    /** writeLayer's pipeline as the builder runs it: tarChunks -> gzip -6. */
    current: { ms: number; size: number };
    /** tarChunks alone, bytes thrown away. */
    tarOnlyMs: number;
    /** Batched reads and ~1 MiB chunks into the same gzip -6; same tar bytes (diffId) and gzip size as current. */
    batched: { ms: number; size: number; sameDigest: boolean };
  };
  assetBucket: { name: string; ms: number; size: number };
}

async function sha256File(path: string): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  hash.digest();
}

/** The faster of two runs: the first pays for module and page-cache warm-up. For the cheap parts only. */
async function best<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  let out: { ms: number; value: T } | null = null;
  for (let i = 0; i < 2; i++) {
    const t = performance.now();
    const value = await fn();
    const ms = performance.now() - t;
    if (!out || ms < out.ms) out = { ms, value };
  }
  return out as { ms: number; value: T };
}

async function once<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

/** gzip at `level` into nothing; the sha256 of the tar bytes (the diffId) and the gzip size. */
async function gzipDigest(
  chunks: AsyncIterable<Buffer>,
  level: number,
): Promise<{ diffId: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(
    Readable.from(chunks),
    new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    }),
    createGzip({ level }),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        size += chunk.length;
        done();
      },
    }),
  );
  return { diffId: `sha256:${hash.digest('hex')}`, size };
}

const BLOCK = 512;
const BATCH = 1024 * 1024;

/** The same tar bytes as tarChunks (ustar headers from the same tar Header class), in ~1 MiB chunks. */
async function* batchedTar(entries: readonly LayerEntry[], mtime: Date): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let size = 0;
  const add = (b: Buffer) => {
    parts.push(b);
    size += b.length;
  };
  const flush = () => {
    const out = Buffer.concat(parts, size);
    parts = [];
    size = 0;
    return out;
  };
  for (const entry of entries) {
    const path = entry.type === 'dir' ? `${entry.path}/` : entry.path;
    const header = new Header({
      path,
      mode: entry.type === 'dir' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      size: entry.type === 'dir' ? 0 : entry.size,
      mtime,
      type: entry.type === 'dir' ? 'Directory' : 'File',
    });
    header.encode();
    if (header.needPax) throw new Error(`profile: ${path} needs a PAX header; not handled here`);
    add(header.block as Buffer);
    if (entry.type === 'dir') continue;
    if (entry.content) add(entry.content);
    else if (entry.source && entry.size <= BATCH) add(await readFile(entry.source));
    else if (entry.source) {
      if (size) yield flush();
      for await (const chunk of createReadStream(entry.source, { highWaterMark: BATCH }))
        yield chunk as Buffer;
    }
    const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (pad) add(Buffer.alloc(pad));
    if (size >= BATCH) yield flush();
  }
  add(Buffer.alloc(2 * BLOCK));
  yield flush();
}

export async function profileImage(outputDir: string, mtime: Date): Promise<ImageProfile> {
  const list = await best(async () => {
    const found = await globby('**/*', {
      cwd: outputDir,
      dot: true,
      onlyFiles: true,
      followSymbolicLinks: false,
    });
    for (const p of found) await stat(join(outputDir, p));
    return found;
  });
  const paths = list.value;

  const hashOnly = await best(async () => {
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let i = next++; i < paths.length; i = next++)
          await sha256File(join(outputDir, paths[i] as string));
      }),
    );
  });

  const plan = await best(() =>
    planSiteLayers({
      outputDir,
      siteRoot: SITE_ROOT,
      mtime,
      extraFiles: [
        { path: SERVER_CONF_PATH, content: Buffer.from(serverConf()) },
        { path: LISTEN_CONF_PATH, content: Buffer.from(listenConf(8080)) },
      ],
    }),
  );
  const planned = plan.value;
  const layers = planned.map((l) => ({
    name: l.name,
    files: l.entries.filter((e) => e.type === 'file').length,
    bytes: l.entries.reduce((n, e) => n + e.size, 0),
  }));
  const pages = planned.find((l) => l.name === 'pages') as PlannedLayer;
  const asset = planned.find((l) => l.name.startsWith('assets-'));

  const dir = await mkdtemp(join(tmpdir(), 'bench-profile-'));
  const current = await once(() =>
    writeLayer(pages.entries, join(dir, 'pages'), { mtime, level: pages.level }),
  ).finally(() => rm(dir, { recursive: true, force: true }));
  const tarOnly = await once(async () => {
    for await (const _ of tarChunks(pages.entries, mtime)) {
      // discard
    }
  });
  const batched = await once(() => gzipDigest(batchedTar(pages.entries, mtime), pages.level));
  const assetRun = asset ? await once(() => gzipDigest(tarChunks(asset.entries, mtime), asset.level)) : null;
  return {
    files: paths.length,
    listMs: list.ms,
    planMs: plan.ms,
    hashOnlyMs: hashOnly.ms,
    layers,
    pages: {
      tarBytes: pages.entries.reduce((n, e) => n + e.size, 0),
      current: { ms: current.ms, size: current.value.size },
      tarOnlyMs: tarOnly.ms,
      batched: {
        ms: batched.ms,
        size: batched.value.size,
        sameDigest:
          batched.value.diffId === current.value.diffId && batched.value.size === current.value.size,
      },
    },
    assetBucket: { name: asset?.name ?? '-', ms: assetRun?.ms ?? 0, size: assetRun?.value.size ?? 0 },
  };
}
