import { posix } from 'node:path';
import { indexedFiles, type ReleaseIndex } from './index-file.js';
import { PAGE_LEVEL, type PlannedLayer, withDirectories } from './site-layers.js';
import type { LayerEntry } from './tar-layer.js';

export interface DeltaLimits {
  /** Delta layers an image may have before the site is written as full layers again. */
  maxLayers: number;
  /** Shadowed bytes, as a share of the site's bytes, before the same. */
  maxWaste: number;
}

/** What the build writes over the previous release, and why. */
export type DeltaPlan = { changed: number; removed: number } & (
  | { kind: 'unchanged' }
  | { kind: 'delta'; layer: PlannedLayer; shadowed: number }
  | { kind: 'full'; why: string }
);

const WHITEOUT = '.wh.';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Compares the rendered files (entries under `dir`, hashes known) with the previous release's
 * index. Every file whose size and hash are unchanged gets the mtime it had there (so its
 * Last-Modified and ETag stay); every other file gets `mtime` (the commit time). The mtimes are
 * set on `files` whatever the outcome, so full layers written instead keep them too.
 * The delta layer holds the changed and added files and a whiteout for each removed path (one
 * for a whole directory that is gone). Over the limits, full layers are due instead.
 */
export function planDelta(opts: {
  siteRoot: string;
  dir: string;
  files: readonly LayerEntry[];
  previous: ReleaseIndex;
  mtime: Date;
  limits: DeltaLimits;
}): DeltaPlan {
  const before = indexedFiles(opts.previous);
  const now = new Set<string>();
  const changed: LayerEntry[] = [];
  let bytes = 0;
  let shadow = 0;
  for (const file of opts.files) {
    const rel = file.path.slice(opts.dir.length + 1);
    const old = before.get(rel);
    now.add(rel);
    bytes += file.size;
    if (old && old.size === file.size && old.sha256 === file.sha256) {
      file.mtime = old.mtime;
      continue;
    }
    file.mtime = opts.mtime;
    changed.push(file);
    if (old) shadow += old.size;
  }
  const removed = [...before.keys()].filter((p) => !now.has(p));
  for (const p of removed) shadow += before.get(p)?.size ?? 0;
  const counts = { changed: changed.length, removed: removed.length };
  if (opts.previous.dir !== opts.dir) {
    return {
      kind: 'full',
      why: `the site moved from /${opts.previous.dir} to /${opts.dir} in the image`,
      ...counts,
    };
  }
  if (changed.length === 0 && removed.length === 0) return { kind: 'unchanged', ...counts };

  const { deltas } = opts.previous;
  const shadowed = opts.previous.shadowed + shadow;
  if (deltas >= opts.limits.maxLayers) {
    return { kind: 'full', why: `${deltas} delta layers already (image.delta.maxLayers)`, ...counts };
  }
  if (shadowed > opts.limits.maxWaste * bytes) {
    const share = bytes === 0 ? 1 : shadowed / bytes;
    return {
      kind: 'full',
      why: `${(share * 100).toFixed(1)}% of the site's bytes would be shadowed (image.delta.maxWaste ${opts.limits.maxWaste})`,
      ...counts,
    };
  }
  const outs = whiteouts(removed, now).map(
    (p): LayerEntry => ({
      path: `${opts.dir}/${posix.join(posix.dirname(p), `${WHITEOUT}${posix.basename(p)}`)}`,
      type: 'file',
      size: 0,
      content: Buffer.alloc(0),
      sha256: EMPTY_SHA256,
      mtime: opts.mtime,
    }),
  );
  const root = opts.siteRoot.replace(/^\/+|\/+$/g, '');
  const entries = applyOrder(withDirectories(root, [...changed, ...outs]));
  return {
    kind: 'delta',
    layer: { name: 'delta', level: PAGE_LEVEL, entries, media: false },
    shadowed,
    ...counts,
  };
}

/**
 * The paths to white out for `removed` files: the topmost directory that held one and is gone
 * now (a file now, or absent), else the file itself (also when a directory replaces it).
 */
function whiteouts(removed: readonly string[], now: ReadonlySet<string>): string[] {
  const dirsNow = new Set<string>();
  for (const p of now) for (let d = posix.dirname(p); d !== '.'; d = posix.dirname(d)) dirsNow.add(d);
  const out = new Set<string>();
  for (const p of removed) {
    let target = p;
    for (let d = posix.dirname(p); d !== '.'; d = posix.dirname(d)) if (!dirsNow.has(d)) target = d;
    out.add(target);
  }
  return [...out].sort();
}

/**
 * Tar order for a delta: parents first, and a whiteout before whatever takes its path in the
 * same layer (a directory replacing a file, or a file a directory), since an extractor applies
 * a whiteout by deleting the path as it meets it.
 */
function applyOrder(entries: LayerEntry[]): LayerEntry[] {
  const key = (e: LayerEntry) => {
    const name = posix.basename(e.path);
    return name.startsWith(WHITEOUT)
      ? { path: posix.join(posix.dirname(e.path), name.slice(WHITEOUT.length)), rank: 0 }
      : { path: e.path, rank: 1 };
  };
  return entries
    .map((e) => ({ e, k: key(e) }))
    .sort((a, b) => (a.k.path < b.k.path ? -1 : a.k.path > b.k.path ? 1 : a.k.rank - b.k.rank))
    .map(({ e }) => e);
}
