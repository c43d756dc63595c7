import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes JSON through a temp file and a rename, so a killed run never leaves half a file. */
export async function writeJsonFile(path: string, value: unknown, pretty = false): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, pretty ? `${JSON.stringify(value, null, 2)}\n` : JSON.stringify(value));
  await rename(tmp, path);
}

/** A cache file's JSON, or null when it is missing or unreadable (a cache is only a hint). */
export async function readJsonFile<T>(path: string): Promise<T | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return null;
  }
}
