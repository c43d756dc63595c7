import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { x as extractTar } from 'tar';
import { SitepipeError } from '../errors.js';

/** Platforms the official release archives are fetched for. */
export type HugoPlatform = 'linux-amd64' | 'linux-arm64';

export interface HugoVersion {
  version: string;
  extended: boolean;
}

/** From this release on, archive names use `linux-amd64` instead of `Linux-64bit`. */
const LOWERCASE_PLATFORM_SINCE = '0.103.0';

const LEGACY_PLATFORM_NAMES: Record<HugoPlatform, string> = {
  'linux-amd64': 'Linux-64bit',
  'linux-arm64': 'Linux-ARM64',
};

const CHECKSUMS_TIMEOUT_MS = 60_000;
const ARCHIVE_TIMEOUT_MS = 10 * 60_000;

function versionParts(version: string): number[] {
  return (/^\d+\.\d+\.\d+/.exec(version)?.[0] ?? '0.0.0').split('.').map(Number);
}

/** Compares release versions numerically: negative, zero or positive like a sort comparator. */
export function compareVersions(a: string, b: string): number {
  const pa = versionParts(a);
  const pb = versionParts(b);
  for (let i = 0; i < 3; i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff !== 0) return diff;
  }
  return 0;
}

/** The official archive name, e.g. hugo_extended_0.111.3_linux-amd64.tar.gz. */
export function archiveName(version: string, extended: boolean, platform: HugoPlatform): string {
  const edition = extended ? 'hugo_extended' : 'hugo';
  const platformName =
    compareVersions(version, LOWERCASE_PLATFORM_SINCE) >= 0 ? platform : LEGACY_PLATFORM_NAMES[platform];
  return `${edition}_${version}_${platformName}.tar.gz`;
}

export function checksumsName(version: string): string {
  return `hugo_${version}_checksums.txt`;
}

export function releaseUrl(downloadBaseUrl: string, version: string, file: string): string {
  return `${downloadBaseUrl.replace(/\/+$/, '')}/v${version}/${file}`;
}

/** Where a verified release lives in the cache: ${cacheDir}/hugo/<version>[-extended]/hugo. */
export function hugoCachePath(cacheDir: string, version: string, extended: boolean): string {
  return join(cacheDir, 'hugo', `${version}${extended ? '-extended' : ''}`, 'hugo');
}

/** The release platform of this machine, or null when no official archive fits it. */
export function hostPlatform(): HugoPlatform | null {
  if (process.platform !== 'linux') return null;
  if (process.arch === 'x64') return 'linux-amd64';
  if (process.arch === 'arm64') return 'linux-arm64';
  return null;
}

/** Parses a checksums file (`<sha256>  <filename>` lines) into filename -> lowercase hex digest. */
export function parseChecksums(text: string): Map<string, string> {
  const digests = new Map<string, string>();
  for (const line of text.split('\n')) {
    // sha256sum writes `*name` in binary mode; accept both.
    const m = /^([0-9a-fA-F]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (m?.[1] && m[2]) digests.set(m[2], m[1].toLowerCase());
  }
  return digests;
}

/**
 * Parses `hugo version` output, current (`hugo v0.111.3-<sha>+extended linux/amd64 ...`) and
 * pre-0.81 (`Hugo Static Site Generator v0.80.0-<SHA>/extended ...`). A -DEV build keeps the
 * suffix in its version so it never passes for a release.
 */
export function parseHugoVersion(output: string): HugoVersion | null {
  const m = /\bv(\d+\.\d+\.\d+)(-DEV)?(?:-[0-9a-f]{7,40})?((?:[+/][a-z]+)*)(?=\s|$)/i.exec(output);
  if (!m?.[1]) return null;
  return { version: m[1] + (m[2] ?? ''), extended: /[+/]extended\b/i.test(m[3] ?? '') };
}

export interface DownloadOptions {
  version: string;
  extended: boolean;
  platform: HugoPlatform;
  /** e.g. https://github.com/gohugoio/hugo/releases/download */
  downloadBaseUrl: string;
  cacheDir: string;
  signal?: AbortSignal;
  /** Overall limit for the archive download. */
  timeoutMs?: number;
}

/**
 * Downloads the release archive, verifies its sha256 against the release's checksums file
 * before anything is extracted, and installs only the `hugo` binary into the cache with an
 * atomic rename. Returns the installed path.
 */
export async function downloadHugo(opts: DownloadOptions): Promise<string> {
  const file = archiveName(opts.version, opts.extended, opts.platform);
  const expected = await expectedDigest(opts, file);
  const hugoDir = join(opts.cacheDir, 'hugo');
  await ensureDir(hugoDir);
  // The temp dir sits next to the target so the final rename stays on one filesystem.
  const tmp = await mkdtemp(join(hugoDir, '.download-'));
  try {
    const archive = join(tmp, file);
    const url = releaseUrl(opts.downloadBaseUrl, opts.version, file);
    const actual = await downloadTo(url, archive, opts);
    if (actual !== expected) {
      await rm(archive, { force: true });
      throw checksumMismatch(opts, file, url, expected, actual);
    }
    const binary = await extractHugo(archive, join(tmp, 'extract'), url);
    return await install(binary, hugoCachePath(opts.cacheDir, opts.version, opts.extended));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function expectedDigest(opts: DownloadOptions, file: string): Promise<string> {
  const name = checksumsName(opts.version);
  const url = releaseUrl(opts.downloadBaseUrl, opts.version, name);
  const res = await get(url, opts, CHECKSUMS_TIMEOUT_MS);
  const text = await readBody(res, url, opts);
  const digest = parseChecksums(text).get(file);
  if (!digest) {
    throw new SitepipeError(
      'HUGO_NOT_IN_CHECKSUMS',
      `${name} does not list ${file}`,
      `no official archive matches this platform/edition for Hugo ${opts.version}; ` +
        'check hugo.extended, or install that Hugo on PATH',
      [`checksums: ${url}`],
    );
  }
  return digest;
}

/** Streams the body to `dest` while hashing it, so the archive is never held in memory. */
async function downloadTo(url: string, dest: string, opts: DownloadOptions): Promise<string> {
  const res = await get(url, opts, opts.timeoutMs ?? ARCHIVE_TIMEOUT_MS);
  if (!res.body) throw downloadFailed(url, 'the response had no body');
  const hash = createHash('sha256');
  try {
    await pipeline(
      Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>),
      async function* tap(chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          yield chunk;
        }
      },
      createWriteStream(dest, { mode: 0o600 }),
    );
  } catch (e) {
    throw fetchError(e, url, opts);
  }
  return hash.digest('hex');
}

async function extractHugo(archive: string, dir: string, url: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const invalid = (why: string, cause?: unknown) =>
    new SitepipeError(
      'HUGO_ARCHIVE_INVALID',
      `${url} passed its checksum but ${why}`,
      'the release itself looks broken; pin another hugo.version or install Hugo on PATH',
      [],
      { cause },
    );
  try {
    await extractTar({
      file: archive,
      cwd: dir,
      strict: true,
      // Ownership from a foreign archive means nothing here, even when running as root.
      preserveOwner: false,
      // Only the binary: no LICENSE/README, and never a link or a path outside `dir`.
      filter: (path, entry) =>
        path.replace(/^\.\//, '') === 'hugo' && 'type' in entry && entry.type === 'File',
    });
  } catch (e) {
    throw invalid(`could not be extracted (${(e as Error).message})`, e);
  }
  const binary = join(dir, 'hugo');
  const info = await stat(binary).catch(() => null);
  if (!info?.isFile()) throw invalid('has no `hugo` file at its top level');
  return binary;
}

async function install(binary: string, target: string): Promise<string> {
  await ensureDir(join(target, '..'));
  await chmod(binary, 0o755);
  // rename(2) replaces atomically: readers see the old binary or the whole new one.
  await rename(binary, target);
  return target;
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new SitepipeError(
      'HUGO_CACHE_UNWRITABLE',
      `cannot create ${dir}: ${(e as Error).message}`,
      'check the permissions of the cache dir, or set XDG_CACHE_HOME to a writable directory',
    );
  }
}

async function get(url: string, opts: DownloadOptions, timeoutMs: number): Promise<Response> {
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(url, { signal, redirect: 'follow' });
  } catch (e) {
    throw fetchError(e, url, opts, timeoutMs);
  }
  if (res.ok) return res;
  await res.body?.cancel();
  if (res.status === 404) throw unknownVersion(opts, url);
  throw downloadFailed(url, `the server answered ${res.status} ${res.statusText}`.trim());
}

async function readBody(res: Response, url: string, opts: DownloadOptions): Promise<string> {
  try {
    return await res.text();
  } catch (e) {
    throw fetchError(e, url, opts);
  }
}

/** Maps a fetch/stream failure to HUGO_DOWNLOAD_FAILED; the user's own abort passes through. */
function fetchError(e: unknown, url: string, opts: DownloadOptions, timeoutMs?: number): unknown {
  if (opts.signal?.aborted) return e;
  if (e instanceof SitepipeError) return e;
  const err = e as Error & { cause?: { message?: string; code?: string } };
  const why =
    err.name === 'TimeoutError'
      ? `timed out${timeoutMs ? ` after ${Math.round(timeoutMs / 1000)} s` : ''}`
      : [err.message, err.cause?.message ?? err.cause?.code].filter(Boolean).join(': ');
  return downloadFailed(url, why, e);
}

function downloadFailed(url: string, why: string, cause?: unknown): SitepipeError {
  return new SitepipeError(
    'HUGO_DOWNLOAD_FAILED',
    `downloading ${url} failed: ${why}`,
    'check the network and hugo.downloadBaseUrl, then run again; or install that Hugo on PATH',
    [],
    { cause },
  );
}

function unknownVersion(opts: DownloadOptions, url: string): SitepipeError {
  const page = opts.downloadBaseUrl.replace(/\/download\/?$/, '');
  return new SitepipeError(
    'HUGO_UNKNOWN_VERSION',
    `Hugo ${opts.version} was not found: ${url} answered 404`,
    `check that v${opts.version} exists on the releases page (${page}) and that hugo.version has no typo`,
  );
}

function checksumMismatch(
  opts: DownloadOptions,
  file: string,
  url: string,
  expected: string,
  actual: string,
): SitepipeError {
  return new SitepipeError(
    'HUGO_CHECKSUM_MISMATCH',
    `${file} has sha256 ${actual}, but ${checksumsName(opts.version)} lists ${expected}`,
    'the download was corrupted or tampered with and has been deleted; run again, and if it ' +
      'persists check that hugo.downloadBaseUrl points at the official releases or a faithful mirror',
    [`archive: ${url}`],
  );
}
