import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

/**
 * A fresh directory under $TMPDIR, removed when the current test finishes (pass or fail), so a
 * run of the suite leaves no `sitepipe-*` directories behind. Call it inside a test.
 */
export async function tempDir(prefix = 'sitepipe-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
