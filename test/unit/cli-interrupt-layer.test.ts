import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LayerEntry, writeLayer } from '../../pipeline/oci/tar-layer.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sitepipe-layer-abort-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('an interrupted run while a layer is built (Ctrl-C, SIGTERM)', () => {
  it('stops writeLayer at the next chunk with an AbortError, not at the end of the layer', async () => {
    // 8 MB: eight chunks of tar.
    const entries: LayerEntry[] = Array.from({ length: 16 }, (_, i) => ({
      path: `srv/f${i}.bin`,
      type: 'file',
      size: 512 * 1024,
      content: randomBytes(512 * 1024),
      mtime: new Date('2026-03-01T12:00:00Z'),
    }));
    const controller = new AbortController();
    const written = writeLayer(entries, join(dir, 'layer.tgz'), { level: 6, signal: controller.signal });
    controller.abort();
    await expect(written).rejects.toMatchObject({ name: 'AbortError' });
    // The files after the first chunk were never tarred (writeLayer hashes each as it goes).
    expect(entries.filter((e) => e.sha256).length).toBeLessThanOrEqual(2);
  });
});
