import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { globby } from 'globby';
import { LISTEN_CONF_PATH, listenConf, SERVER_CONF_PATH, SITE_ROOT, serverConf } from '../pipeline/nginx.js';
import { planSiteLayers } from '../pipeline/oci/site-layers.js';
import { tarChunks, writeLayer } from '../pipeline/oci/tar-layer.js';

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
    name: string;
    tarBytes: number;
    /** writeLayer's pipeline as the builder runs it: tarChunks -> gzip -6. */
    current: { ms: number; size: number };
    /** tarChunks alone, bytes thrown away. */
    tarOnlyMs: number;
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

  const plan = await best(async () =>
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
  // The biggest text layer: what a one-post edit rebuilds most of.
  const pages = planned
    .filter((l) => !l.name.startsWith('assets-'))
    .reduce((a, b) =>
      b.entries.reduce((n, e) => n + e.size, 0) > a.entries.reduce((n, e) => n + e.size, 0) ? b : a,
    );
  const asset = planned.find((l) => l.name.startsWith('assets-'));

  const dir = await mkdtemp(join(tmpdir(), 'bench-profile-'));
  const current = await once(() =>
    writeLayer(pages.entries, join(dir, 'pages'), { level: pages.level }),
  ).finally(() => rm(dir, { recursive: true, force: true }));
  const tarOnly = await once(async () => {
    for await (const _ of tarChunks(pages.entries)) {
      // discard
    }
  });
  const assetRun = asset ? await once(() => gzipDigest(tarChunks(asset.entries), asset.level)) : null;
  return {
    files: paths.length,
    listMs: list.ms,
    planMs: plan.ms,
    hashOnlyMs: hashOnly.ms,
    layers,
    pages: {
      name: pages.name,
      tarBytes: pages.entries.reduce((n, e) => n + e.size, 0),
      current: { ms: current.ms, size: current.value.size },
      tarOnlyMs: tarOnly.ms,
    },
    assetBucket: { name: asset?.name ?? '-', ms: assetRun?.ms ?? 0, size: assetRun?.value.size ?? 0 },
  };
}
