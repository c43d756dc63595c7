import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { globby } from 'globby';
import { listenConf, SERVER_CONF_PATH, SITE_ROOT, serverConf, LISTEN_CONF_PATH } from '../pipeline/nginx.js';
import { type PlannedLayer, planSiteLayers } from '../pipeline/oci/site-layers.js';
import { writeLayer } from '../pipeline/oci/tar-layer.js';

/**
 * Re-does, piece by piece and timed, what the daemonless image step does with a rendered
 * output dir: list and stat the files, hash them (layer fingerprints), tar+gzip the pages
 * layer (and one asset bucket). The same functions the builder calls, run in this process.
 */

export interface ImageProfile {
  files: number;
  listMs: number;
  planMs: number;
  hashOnlyMs: number;
  layers: Array<{ name: string; files: number; bytes: number }>;
  pages: { tarBytes: number; level6: { ms: number; size: number }; level1: { ms: number; size: number } };
  assetBucket: { name: string; ms: number; size: number };
}

async function sha256File(path: string): Promise<void> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  hash.digest();
}

export async function profileImage(outputDir: string, mtime: Date): Promise<ImageProfile> {
  let t = performance.now();
  const paths = await globby('**/*', { cwd: outputDir, dot: true, onlyFiles: true, followSymbolicLinks: false });
  for (const p of paths) await stat(join(outputDir, p));
  const listMs = performance.now() - t;

  t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < paths.length; i = next++) await sha256File(join(outputDir, paths[i] as string));
    }),
  );
  const hashOnlyMs = performance.now() - t;

  t = performance.now();
  const planned = await planSiteLayers({
    outputDir,
    siteRoot: SITE_ROOT,
    mtime,
    extraFiles: [
      { path: SERVER_CONF_PATH, content: Buffer.from(serverConf()) },
      { path: LISTEN_CONF_PATH, content: Buffer.from(listenConf(8080)) },
    ],
  });
  const planMs = performance.now() - t;

  const layers = planned.map((l) => ({
    name: l.name,
    files: l.entries.filter((e) => e.type === 'file').length,
    bytes: l.entries.reduce((n, e) => n + e.size, 0),
  }));
  const dir = await mkdtemp(join(tmpdir(), 'bench-profile-'));
  const layerRun = async (layer: PlannedLayer, level: number) => {
    const start = performance.now();
    const blob = await writeLayer(layer.entries, join(dir, `${layer.name}-${level}`), { mtime, level });
    return { ms: performance.now() - start, size: blob.size };
  };
  try {
    const pages = planned.find((l) => l.name === 'pages') as PlannedLayer;
    const asset = planned.find((l) => l.name.startsWith('assets-'));
    const level6 = await layerRun(pages, 6);
    const level1 = await layerRun(pages, 1);
    const assetRun = asset ? await layerRun(asset, 1) : { ms: 0, size: 0 };
    return {
      files: paths.length,
      listMs,
      planMs,
      hashOnlyMs,
      layers,
      pages: { tarBytes: pages.entries.reduce((n, e) => n + e.size, 0), level6, level1 },
      assetBucket: { name: asset?.name ?? '-', ...assetRun },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
