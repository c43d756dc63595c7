import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobSource } from '../clients/registry.js';
import { writeJsonFile } from '../json-file.js';
import { ownedPrefix, removeDeadTempEntries } from '../leftovers.js';
import type { LayerBlob } from './tar-layer.js';

/** What a store keeps unused: a site's media layers are used (and touched) by every build. */
export const UNUSED_DAYS = 7;
const TEMP_PREFIX = '.tmp-';

/**
 * Content-addressed blobs in the cache dir (an OCI layout's blobs/ tree), and what each
 * layer fingerprint was built into, so an unchanged layer is never tarred or gzipped again.
 * Page layers are new on every commit, so `prune` removes what no build used for a week.
 */
export class BlobStore {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.blobPath(digest)).then(
      () => true,
      () => false,
    );
  }

  source(digest: string): BlobSource {
    const path = this.blobPath(digest);
    return { seekable: true, open: (range) => createReadStream(path, range) };
  }

  /** A temp file in the store; `commit` moves it under its digest, atomically. */
  async tempFile(): Promise<{
    path: string;
    commit(digest: string): Promise<void>;
    discard(): Promise<void>;
  }> {
    await mkdir(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    const path = join(this.dir, 'blobs', `${ownedPrefix(TEMP_PREFIX)}${Math.random().toString(36).slice(2)}`);
    return {
      path,
      commit: (digest) => rename(path, this.blobPath(digest)),
      discard: () => rm(path, { force: true }),
    };
  }

  async put(digest: string, data: Buffer): Promise<void> {
    if (await this.has(digest)) return;
    const tmp = await this.tempFile();
    await writeFile(tmp.path, data);
    await tmp.commit(digest);
  }

  /** The blob a fingerprint was built into; marks both as used. */
  async known(fingerprint: string): Promise<LayerBlob | null> {
    const record = join(this.dir, 'layers', `${fingerprint}.json`);
    try {
      const blob = JSON.parse(await readFile(record, 'utf8')) as LayerBlob;
      const now = new Date();
      await Promise.all([
        utimes(record, now, now),
        utimes(this.blobPath(blob.digest), now, now).catch(() => {}),
      ]);
      return blob;
    } catch {
      return null;
    }
  }

  /**
   * Removes blobs, layer records and temp files nobody used (or wrote) for `days` days, and at
   * once the temp files of runs that were killed (a layer being written can be tens of MB).
   */
  async prune(days = UNUSED_DAYS): Promise<void> {
    await removeDeadTempEntries(TEMP_PREFIX, join(this.dir, 'blobs'));
    const before = Date.now() - days * 24 * 3600 * 1000;
    const dirs = [join(this.dir, 'blobs', 'sha256'), join(this.dir, 'layers'), join(this.dir, 'blobs')];
    for (const dir of dirs) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      await Promise.all(
        entries
          .filter((e) => e.isFile())
          .map(async (e) => {
            const path = join(dir, e.name);
            const info = await stat(path).catch(() => null);
            if (info && info.mtimeMs < before) await rm(path, { force: true });
          }),
      );
    }
  }

  async remember(fingerprint: string, blob: LayerBlob): Promise<void> {
    await writeJsonFile(join(this.dir, 'layers', `${fingerprint}.json`), blob);
  }
}
