import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sha256Digest } from '../../pipeline/clients/registry.js';
import { BlobStore, UNUSED_DAYS } from '../../pipeline/oci/blob-store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitepipe-store-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const longAgo = new Date(Date.now() - (UNUSED_DAYS + 1) * 24 * 3600 * 1000);

async function blob(store: BlobStore, text: string, old: boolean): Promise<string> {
  const data = Buffer.from(text);
  const digest = sha256Digest(data);
  await store.put(digest, data);
  if (old) await utimes(store.blobPath(digest), longAgo, longAgo);
  return digest;
}

describe('BlobStore.prune', () => {
  it('removes what no build used for a week, and keeps what a lookup just used', async () => {
    const store = new BlobStore(dir);
    const unused = await blob(store, 'page layer of an old commit', true);
    const media = await blob(store, 'media layer, unchanged for weeks', true);
    const fresh = await blob(store, 'page layer of this commit', false);
    await store.remember('old-pages', { digest: unused, diffId: unused, size: 1 });
    await store.remember('media', { digest: media, diffId: media, size: 1 });
    for (const f of ['old-pages', 'media']) await utimes(join(dir, 'layers', `${f}.json`), longAgo, longAgo);
    const tmp = await store.tempFile();
    await writeFile(tmp.path, 'a killed run');
    await utimes(tmp.path, longAgo, longAgo);

    // This build reuses the media layer: its record and blob count as used now.
    expect(await store.known('media')).toMatchObject({ digest: media });
    await store.prune();

    expect(await store.has(unused)).toBe(false);
    expect(await store.known('old-pages')).toBeNull();
    expect(await store.has(media)).toBe(true);
    expect(await store.has(fresh)).toBe(true);
    expect((await readdir(join(dir, 'blobs'))).filter((n) => n.startsWith('.tmp'))).toEqual([]);
  });
});
