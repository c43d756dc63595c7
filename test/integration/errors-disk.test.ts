import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { fullestDir } from '../../pipeline/commands/context.js';
import { fileSystemError, toSitepipeError } from '../../pipeline/errors.js';
import { tempDir } from '../helpers/temp.js';

/** A small tmpfs at a fresh dir (the tests run as root), unmounted when the test ends. */
async function smallDisk(options: string): Promise<string> {
  const dir = join(await tempDir(), 'disk');
  await mkdir(dir);
  await execa('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  onTestFinished(() => execa('umount', [dir]).then(() => undefined));
  return dir;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );

describe('disk errors name the path', () => {
  it('a full cache or state disk is DISK_FULL, naming the directory on it', async () => {
    const full = await smallDisk('size=64k');
    const roomy = await tempDir();
    const raw = await failure(writeFile(join(full, 'blob'), Buffer.alloc(256 * 1024)));
    expect((raw as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(toSitepipeError(raw).code).toBe('DISK_FULL'); // not INTERNAL, even where nothing names the dir
    const where = await fullestDir([roomy, full]);
    expect(where).toBe(full);
    const e = fileSystemError(raw, where);
    expect(e?.code).toBe('DISK_FULL');
    expect(e?.message).toContain(full);
    expect(e?.hint).toMatch(/--state-dir|XDG_CACHE_HOME/);
  });

  it('a directory sitepipe may not write is PERMISSION_DENIED, naming the path', async () => {
    const readOnly = await smallDisk('size=64k,ro');
    const raw = await failure(writeFile(join(readOnly, 'record.json'), '{}'));
    const e = toSitepipeError(raw);
    expect(e.code).toBe('PERMISSION_DENIED');
    expect(e.message).toContain(join(readOnly, 'record.json'));
  });
});
