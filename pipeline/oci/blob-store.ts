import { createReadStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobSource } from '../clients/registry.js';
import type { LayerBlob } from './tar-layer.js';

/**
 * Content-addressed blobs in the cache dir (an OCI layout's blobs/ tree), and what each
 * layer fingerprint was built into, so an unchanged layer is never tarred or gzipped again.
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
    const path = join(this.dir, 'blobs', `.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
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

  async known(fingerprint: string): Promise<LayerBlob | null> {
    try {
      return JSON.parse(await readFile(join(this.dir, 'layers', `${fingerprint}.json`), 'utf8')) as LayerBlob;
    } catch {
      return null;
    }
  }

  async remember(fingerprint: string, blob: LayerBlob): Promise<void> {
    await mkdir(join(this.dir, 'layers'), { recursive: true });
    const path = join(this.dir, 'layers', `${fingerprint}.json`);
    await writeFile(`${path}.tmp`, JSON.stringify(blob));
    await rename(`${path}.tmp`, path);
  }
}
