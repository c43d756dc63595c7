import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { filesUnder } from '../pipeline/paths.js';

/**
 * The floor of an edit's upload: the files whose bytes changed between two renders (or that are
 * new), each gzipped at level 6, summed. Removed files cost nothing.
 */
export function changedFloor(before: string, after: string): { files: number; bytes: number } {
  const old = new Set(filesUnder(before));
  let files = 0;
  let bytes = 0;
  for (const rel of filesUnder(after)) {
    const data = readFileSync(`${after}/${rel}`);
    if (old.has(rel) && readFileSync(`${before}/${rel}`).equals(data)) continue;
    files++;
    bytes += gzipSync(data, { level: 6 }).length;
  }
  return { files, bytes };
}

export interface ManifestInfo {
  config: { digest: string; size: number };
  layers: Array<{ digest: string; size: number }>;
}

/** What a node holding `previous` pulls for `next`: the config and every layer it lacks. */
export function pullBytes(previous: ManifestInfo, next: ManifestInfo): number {
  const have = new Set(previous.layers.map((l) => l.digest));
  return next.config.size + next.layers.filter((l) => !have.has(l.digest)).reduce((n, l) => n + l.size, 0);
}
