import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readJsonFile, writeJsonFile } from '../json-file.js';
import type { LayerEntry } from './tar-layer.js';

interface Known {
  /** size and mtime (ns) when the hash was taken: the same quick check rsync and make rely on. */
  stat: string;
  sha256: string;
}

/**
 * Content hashes of rendered files that keep their size and mtime from build to build: Hugo
 * copies static files with their source's mtime, so unchanged media is not read again to
 * learn that its layer is unchanged. Only this build's files are kept, so the file never grows.
 */
export class FileHashes {
  private readonly seen = new Map<string, string>();

  private constructor(
    private readonly file: string,
    private readonly known: Record<string, Known>,
  ) {}

  static async load(file: string): Promise<FileHashes> {
    return new FileHashes(file, (await readJsonFile<Record<string, Known>>(file)) ?? {});
  }

  /** The hash taken when `path` last had this size and mtime, if any; notes the stat for `save`. */
  lookup(path: string, size: number, mtimeNs: bigint): string | undefined {
    const stat = `${size}:${mtimeNs}`;
    this.seen.set(path, stat);
    const known = this.known[path];
    return known?.stat === stat ? known.sha256 : undefined;
  }

  /** Keeps the hashes of these entries (their files looked up in this build, their hashes now known). */
  async save(entries: readonly LayerEntry[]): Promise<void> {
    const next: Record<string, Known> = {};
    for (const e of entries) {
      const stat = e.source && this.seen.get(e.source);
      if (stat && e.sha256) next[e.source as string] = { stat, sha256: e.sha256 };
    }
    await writeJsonFile(this.file, next);
  }
}

/**
 * Reads and hashes the files whose hash is not known yet: a delta compares every file with the
 * previous release before any layer is written. Synchronous, one file at a time: pages are small
 * and many, and a thread-pool round trip per file costs more than the read.
 */
export function hashMissing(entries: readonly LayerEntry[]): void {
  for (const e of entries) {
    if (e.type !== 'file' || e.sha256) continue;
    const data = e.content ?? readFileSync(e.source as string);
    if (data.length !== e.size) throw new Error(`${e.source ?? e.path} changed size while it was hashed`);
    e.sha256 = createHash('sha256').update(data).digest('hex');
  }
}
